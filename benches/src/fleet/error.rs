//! Errors of the fleet bench, each naming the scenario step and the place.

use std::path::PathBuf;

/// Result alias for the fleet bench.
pub type FleetResult<T, E = FleetError> = std::result::Result<T, E>;

/// Everything that can stop a fleet bench run.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A bad command-line argument.
    #[error("invalid argument: {0}")]
    Args(String),
    /// A file system operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Building a shard of a bench version failed.
    #[error("building shard {shard} of version {version}: {source}")]
    Build {
        /// The version being built.
        version: String,
        /// The shard index.
        shard: u32,
        /// The cause.
        #[source]
        source: tusk_format::FormatError,
    },
    /// The store refused an operation (publish, activate, open).
    #[error("store: {what} {domain}/{version}: {source}")]
    Store {
        /// What was being done.
        what: &'static str,
        /// The domain.
        domain: String,
        /// The version (empty when none).
        version: String,
        /// The cause.
        #[source]
        source: Box<tusk_store::StoreError>,
    },
    /// An in-process node failed to start.
    #[error("starting an in-process node for scenario {scenario}: {source}")]
    Server {
        /// The scenario.
        scenario: &'static str,
        /// The cause.
        #[source]
        source: Box<tusk_server::ServerError>,
    },
    /// A client call made while setting up (connect, topology) failed.
    #[error("{scenario}: {what}: {source}")]
    Client {
        /// The scenario.
        scenario: &'static str,
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: Box<tusk_client::ClientError>,
    },
    /// A scenario could not be set up or did not reach the state it waits for.
    #[error("{scenario}: {detail}")]
    Setup {
        /// The scenario.
        scenario: &'static str,
        /// What went wrong.
        detail: String,
    },
}

impl FleetError {
    /// A [`FleetError::Setup`] for `scenario`.
    pub fn setup(scenario: &'static str, detail: impl Into<String>) -> FleetError {
        FleetError::Setup {
            scenario,
            detail: detail.into(),
        }
    }
}
