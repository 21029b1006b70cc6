//! Errors of the writer. Every input error names its place (`file:line`,
//! `stdin:line` or `record N`).

use std::fmt;

use tusk_format::FormatError;
use tusk_store::StoreError;

/// Where an input record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Line `line` (1-based) of an input file, or of `stdin`.
    Line {
        /// The file path as found (or `stdin`).
        source: String,
        /// 1-based line number.
        line: u64,
    },
    /// The `n`-th (1-based) record of an iterator given to
    /// [`build_from_iter`](crate::build_from_iter).
    Record(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line { source, line } => write!(f, "{source}:{line}"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// Everything that can go wrong building or publishing a version.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// An option is out of range (thread count, ...).
    #[error("invalid write options: {0}")]
    InvalidOptions(String),
    /// A numeric option is outside its bounds (shard count, memory budget).
    #[error("{option} = {value} is out of range ({allowed}): {why}")]
    OutOfRange {
        /// The option, e.g. `shards`.
        option: &'static str,
        /// The value given.
        value: u64,
        /// What is allowed, e.g. `1..=65536`.
        allowed: String,
        /// Why the bound exists.
        why: &'static str,
    },
    /// The domain name cannot be used.
    #[error("invalid domain: {0}")]
    InvalidDomain(#[source] StoreError),
    /// An input path cannot be opened or listed.
    #[error("cannot open input {path}: {source}")]
    Open {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or decompressing an input failed.
    #[error("{location}: read error: {source}")]
    Read {
        /// The line being read when it failed.
        location: Location,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A malformed record.
    #[error("{location}: {detail}")]
    Input {
        /// Where.
        location: Location,
        /// What is wrong.
        detail: String,
    },
    /// The same key twice under [`OnDuplicate::Error`](crate::OnDuplicate::Error).
    #[error("duplicate key {key} at {first} and {second}")]
    Duplicate {
        /// The key for display: quoted text, or `0x`-hex when binary; truncated.
        key: String,
        /// One place (the earlier of the two in input order).
        first: Location,
        /// The other place.
        second: Location,
    },
    /// I/O on the writer's temporary files (spilled runs, shard files).
    #[error("i/o error on temporary file {path}: {source}")]
    Temp {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The shard format refused a record or failed writing.
    #[error("building shard {shard}: {source}")]
    Format {
        /// Shard index.
        shard: u32,
        /// The cause.
        #[source]
        source: FormatError,
    },
    /// The dedicated thread pool could not be started.
    #[error("cannot start {threads} build threads: {detail}")]
    ThreadPool {
        /// Requested threads.
        threads: usize,
        /// Why.
        detail: String,
    },
    /// Uploading the version failed; nothing is visible (the manifest is written last).
    #[error("publishing {domain} version {version}: {source}")]
    Publish {
        /// Domain.
        domain: String,
        /// Version id.
        version: String,
        /// The cause.
        #[source]
        source: StoreError,
    },
    /// The version was published but moving `CURRENT` to it failed.
    #[error(
        "version {version} of {domain} is published but not current: activating it failed: {source} (once resolved: `tusk activate --domain {domain} {version}`)"
    )]
    Activate {
        /// Domain.
        domain: String,
        /// Version id.
        version: String,
        /// The cause.
        #[source]
        source: StoreError,
    },
}

impl WriteError {
    /// True when the error is the input's fault (malformed record, duplicate key,
    /// unreadable input path), as opposed to options, local I/O or the store.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            WriteError::Open { .. }
                | WriteError::Read { .. }
                | WriteError::Input { .. }
                | WriteError::Duplicate { .. }
        )
    }

    pub(crate) fn temp(path: &std::path::Path, source: std::io::Error) -> Self {
        WriteError::Temp {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = WriteError> = std::result::Result<T, E>;
