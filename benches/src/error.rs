//! Errors of the bench harness, each naming the contender and the place.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// Everything that can stop a bench run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A bad command-line argument.
    #[error("invalid argument: {0}")]
    Args(String),
    /// A file system operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done (`creating`, `mapping`, ...).
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Building or reading the tusk shard failed.
    #[error("tusk shard {path}: {source}")]
    Format {
        /// The shard file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: tusk_format::FormatError,
    },
    /// The tusk writer failed.
    #[error("tusk writer ({shards} shards) in {dir}: {source}")]
    Writer {
        /// Shard count asked for.
        shards: u32,
        /// Temp dir given to the writer.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: Box<tusk_writer::WriteError>,
    },
    /// sled failed.
    #[error("sled database {path}: {source}")]
    Sled {
        /// The database directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: sled::Error,
    },
    /// LMDB (heed) failed.
    #[error("LMDB environment {path}: {source}")]
    Lmdb {
        /// The environment directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<heed::Error>,
    },
    /// redb failed.
    #[error("redb database {path}: {source}")]
    Redb {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<redb::Error>,
    },
    /// A contender gave a wrong answer (a hit not found, a wrong value, a miss found).
    #[error("{contender} answered wrongly for key {key}: {detail}")]
    WrongAnswer {
        /// The contender's name.
        contender: &'static str,
        /// The key, in hex.
        key: String,
        /// What was wrong.
        detail: String,
    },
    /// A build produced a different record count than it was given.
    #[error("{what} holds {got} records, expected {expected}")]
    WrongCount {
        /// What was built.
        what: &'static str,
        /// Records given.
        expected: u64,
        /// Records found.
        got: u64,
    },
}
