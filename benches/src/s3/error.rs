//! Errors of the S3 transfer bench, each naming the object or file involved.

use std::path::PathBuf;

/// Result alias of the S3 transfer bench.
pub type S3Result<T, E = S3BenchError> = std::result::Result<T, E>;

/// Everything that can stop an S3 transfer run.
#[derive(Debug, thiserror::Error)]
pub enum S3BenchError {
    /// A bad command-line argument.
    #[error("invalid argument: {0}")]
    Args(String),
    /// A local file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done (`writing`, `reading`, ...).
        what: &'static str,
        /// The local path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A store operation failed.
    #[error("{what} {key}: {source}")]
    Store {
        /// What was being done (`uploading`, `downloading`, ...).
        what: &'static str,
        /// The object key.
        key: String,
        /// The cause.
        #[source]
        source: tusk_store::StoreError,
    },
    /// Bytes that came back differ from the bytes that went up.
    #[error("object {key} did not round-trip: {detail}")]
    Mismatch {
        /// The object key.
        key: String,
        /// What differed.
        detail: String,
    },
    /// A spawned transfer task died (panicked or was cancelled).
    #[error("transfer task for {what}: {detail}")]
    Task {
        /// The workload or file the task worked on.
        what: String,
        /// The join error.
        detail: String,
    },
}

impl S3BenchError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        S3BenchError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn store(what: &'static str, key: &str, source: tusk_store::StoreError) -> Self {
        S3BenchError::Store {
            what,
            key: key.to_string(),
            source,
        }
    }
}
