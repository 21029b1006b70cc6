//! Server errors: start-up ([`ServerError`]), loading a version ([`LoadError`]) and
//! answering a request ([`ReadError`], mapped to gRPC codes in one place).

use std::path::Path;

use tusk_format::FormatError;
use tusk_store::{ErrorKind, StoreError};

use crate::config::ConfigError;

/// Errors starting or running a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listen address cannot be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// `grpc` or `metrics`.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A domain's store URL cannot be opened.
    #[error("domain {domain}: cannot open store {url}: {source}")]
    Store {
        /// The domain.
        domain: String,
        /// The store URL.
        url: String,
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// The data directory cannot be created.
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The gRPC server stopped with an error.
    #[error("grpc server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The metrics endpoint stopped with an error.
    #[error("metrics server failed: {0}")]
    Metrics(#[source] std::io::Error),
    /// A task of the server (the gRPC server's, the metrics endpoint's) panicked or
    /// was cancelled.
    #[error("{task} task ended abnormally: {detail}")]
    Task {
        /// Which task.
        task: &'static str,
        /// The panic or cancellation.
        detail: String,
    },
    /// Building the reflection service failed.
    #[error("grpc reflection: {0}")]
    Reflection(String),
}

/// Why a version could not be loaded. Each variant names the version and, where
/// one is involved, the shard or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The manifest cannot be fetched or is invalid.
    #[error("version {version}: manifest: {source}")]
    Manifest {
        /// Version id.
        version: String,
        /// Store error.
        #[source]
        source: StoreError,
    },
    /// A local manifest copy describes another domain or version.
    #[error("{path}: {detail}")]
    ManifestMismatch {
        /// The local manifest path.
        path: String,
        /// What does not match.
        detail: String,
    },
    /// Downloading a shard failed (including a size or CRC32 mismatch).
    #[error("version {version}: download of shard {shard} ({object}) failed: {source}")]
    Download {
        /// Version id.
        version: String,
        /// Shard number.
        shard: u32,
        /// Object name, e.g. `shard-00003.tsk`.
        object: String,
        /// Store error.
        #[source]
        source: StoreError,
    },
    /// A shard file does not open or fails its full verification.
    #[error("version {version}: shard {shard} ({path}) is unusable: {source}")]
    Shard {
        /// Version id.
        version: String,
        /// Shard number.
        shard: u32,
        /// Local path of the file.
        path: String,
        /// Format error.
        #[source]
        source: FormatError,
    },
    /// A shard file's size differs from the manifest.
    #[error(
        "version {version}: shard {shard} ({path}) has {actual} bytes, manifest says {expected}"
    )]
    ShardSize {
        /// Version id.
        version: String,
        /// Shard number.
        shard: u32,
        /// Local path.
        path: String,
        /// Size in the manifest.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// A shard file's record count (from its footer) differs from the manifest.
    #[error(
        "version {version}: shard {shard} ({path}) has {actual} records, manifest says {expected}"
    )]
    ShardRecords {
        /// Version id.
        version: String,
        /// Shard number.
        shard: u32,
        /// Local path.
        path: String,
        /// Record count in the manifest.
        expected: u64,
        /// Record count in the file's footer.
        actual: u64,
    },
    /// A shard file's header names another shard format than its manifest's
    /// `shard_format` (a writer that recorded the wrong one, or a file from
    /// elsewhere).
    #[error(
        "version {version}: shard {shard} ({path}) is in shard format {actual}, manifest says {expected}"
    )]
    ShardFormat {
        /// Version id.
        version: String,
        /// Shard number.
        shard: u32,
        /// Local path.
        path: String,
        /// The format the manifest names.
        expected: tusk_format::ShardFormat,
        /// The format of the file's header.
        actual: tusk_format::ShardFormat,
    },
    /// A shard file's CRC32 differs from the manifest's (found by the full check
    /// of a file whose stamp no longer matches its record).
    #[error(
        "version {version}: shard {shard} ({path}) has crc32 {actual:08x}, manifest says {expected:08x}"
    )]
    ShardCrc {
        /// Version id.
        version: String,
        /// Shard number.
        shard: u32,
        /// Local path.
        path: String,
        /// CRC32 in the manifest.
        expected: u32,
        /// CRC32 of the file's bytes.
        actual: u32,
    },
    /// A local file operation failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Mapping the version's shards would pass the kernel's `vm.max_map_count`.
    #[error(transparent)]
    MapLimit(#[from] crate::map_limit::MapLimitError),
    /// A background task panicked or was cancelled.
    #[error("{what}: background task failed: {detail}")]
    Task {
        /// What the task did.
        what: String,
        /// The join error.
        detail: String,
    },
}

impl LoadError {
    /// True when the load was interrupted by something that may pass (network,
    /// timeout, throttling, a local disk error while downloading) rather than by
    /// bad stored bytes: the partial download is kept, resumed and retried with
    /// backoff.
    pub fn is_interrupted(&self) -> bool {
        match self {
            LoadError::Download { source, .. } | LoadError::Manifest { source, .. } => {
                matches!(source.kind(), ErrorKind::Retryable | ErrorKind::Internal)
            }
            _ => false,
        }
    }

    /// The local file this error is about, if any (a shard that does not open or
    /// match, a failed file operation).
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            LoadError::ShardSize { path, .. }
            | LoadError::Shard { path, .. }
            | LoadError::ShardRecords { path, .. }
            | LoadError::ShardFormat { path, .. }
            | LoadError::ShardCrc { path, .. }
            | LoadError::Io { path, .. } => Some(Path::new(path)),
            _ => None,
        }
    }

    /// An [`LoadError::Io`] naming `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> LoadError {
        LoadError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Why a Get or MultiGet cannot be answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The domain is not configured on this node.
    #[error("unknown domain {domain:?} (this node serves: {served})")]
    UnknownDomain {
        /// Requested domain.
        domain: String,
        /// Comma-separated configured domains.
        served: String,
    },
    /// No version of the domain is loaded yet.
    #[error("domain {domain:?} has no version loaded yet{}", reason_suffix(.reason))]
    NotLoaded {
        /// Domain.
        domain: String,
        /// The last load error, if any.
        reason: Option<String>,
    },
    /// A key is empty.
    #[error("empty key{}", index_suffix(*.index))]
    EmptyKey {
        /// Index in a MultiGet.
        index: Option<usize>,
    },
    /// A key is longer than `max_key_len`.
    #[error("key of {len} bytes exceeds max_key_len {max}{}", index_suffix(*.index))]
    KeyTooLong {
        /// Key length.
        len: usize,
        /// The limit.
        max: usize,
        /// Index in a MultiGet.
        index: Option<usize>,
    },
    /// A MultiGet has more keys than `max_batch`.
    #[error("{count} keys exceed max_batch {max}")]
    TooManyKeys {
        /// Number of keys.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The requested version is not held in memory.
    #[error("version {version} of domain {domain:?} is not held by this node (holds {held})")]
    VersionNotHeld {
        /// Domain.
        domain: String,
        /// Requested version.
        version: String,
        /// Comma-separated held versions.
        held: String,
    },
    /// The key's shard is not held by this node.
    #[error("shard {shard} of {domain}/{version} is not held by this node")]
    ShardNotHeld {
        /// Domain.
        domain: String,
        /// Version.
        version: String,
        /// Shard number.
        shard: u32,
    },
    /// A record read failed: the shard is corrupt.
    #[error("corrupt record in {domain}/{version} shard {shard} ({object}): {source}")]
    Corrupt {
        /// Domain.
        domain: String,
        /// Version.
        version: String,
        /// Shard number.
        shard: u32,
        /// Object name.
        object: String,
        /// Format error.
        #[source]
        source: FormatError,
    },
}

fn index_suffix(index: Option<usize>) -> String {
    index.map(|i| format!(" at keys[{i}]")).unwrap_or_default()
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(" (last error: {r})"))
        .unwrap_or_default()
}

impl ReadError {
    /// The gRPC code of this error: the one mapping from read errors to statuses.
    pub fn code(&self) -> tonic::Code {
        match self {
            ReadError::UnknownDomain { .. } => tonic::Code::NotFound,
            ReadError::NotLoaded { .. } => tonic::Code::Unavailable,
            ReadError::EmptyKey { .. }
            | ReadError::KeyTooLong { .. }
            | ReadError::TooManyKeys { .. } => tonic::Code::InvalidArgument,
            ReadError::VersionNotHeld { .. } | ReadError::ShardNotHeld { .. } => {
                tonic::Code::FailedPrecondition
            }
            ReadError::Corrupt { .. } => tonic::Code::Internal,
        }
    }
}

impl ReadError {
    /// The machine-readable reason sent in the `tusk-reason` metadata, for the
    /// errors another node may not share (a client then asks another replica).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            ReadError::ShardNotHeld { .. } => Some(tusk_proto::REASON_SHARD_NOT_HELD),
            ReadError::VersionNotHeld { .. } => Some(tusk_proto::REASON_VERSION_NOT_HELD),
            ReadError::NotLoaded { .. } => Some(tusk_proto::REASON_NOT_LOADED),
            _ => None,
        }
    }
}

impl From<ReadError> for tonic::Status {
    fn from(e: ReadError) -> tonic::Status {
        let mut status = tonic::Status::new(e.code(), e.to_string());
        if let Some(reason) = e.reason() {
            status.metadata_mut().insert(
                tusk_proto::REASON_HEADER,
                tonic::metadata::MetadataValue::from_static(reason),
            );
        }
        if let ReadError::VersionNotHeld { held, .. } = &e
            && let Some(served) = held.split(", ").next()
            && let Ok(value) = served.parse()
        {
            status
                .metadata_mut()
                .insert(tusk_proto::SERVED_VERSION_HEADER, value);
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_map_to_the_documented_codes() {
        use tonic::Code;
        let cases = [
            (
                ReadError::UnknownDomain {
                    domain: "x".into(),
                    served: "a".into(),
                },
                Code::NotFound,
            ),
            (
                ReadError::NotLoaded {
                    domain: "a".into(),
                    reason: None,
                },
                Code::Unavailable,
            ),
            (
                ReadError::EmptyKey { index: Some(3) },
                Code::InvalidArgument,
            ),
            (
                ReadError::KeyTooLong {
                    len: 9,
                    max: 8,
                    index: None,
                },
                Code::InvalidArgument,
            ),
            (
                ReadError::TooManyKeys { count: 9, max: 8 },
                Code::InvalidArgument,
            ),
            (
                ReadError::VersionNotHeld {
                    domain: "a".into(),
                    version: "v0".into(),
                    held: "v1".into(),
                },
                Code::FailedPrecondition,
            ),
            (
                ReadError::ShardNotHeld {
                    domain: "a".into(),
                    version: "v1".into(),
                    shard: 2,
                },
                Code::FailedPrecondition,
            ),
            (
                ReadError::Corrupt {
                    domain: "a".into(),
                    version: "v1".into(),
                    shard: 2,
                    object: "shard-00002.tsk".into(),
                    source: FormatError::Corrupt {
                        detail: "bad".into(),
                    },
                },
                Code::Internal,
            ),
        ];
        for (err, code) in cases {
            let status = tonic::Status::from(err);
            assert_eq!(status.code(), code, "{}", status.message());
        }
    }

    #[test]
    fn messages_name_the_limit_and_index() {
        let msg = ReadError::KeyTooLong {
            len: 9,
            max: 8,
            index: Some(4),
        }
        .to_string();
        assert!(
            msg.contains("max_key_len 8") && msg.contains("keys[4]"),
            "{msg}"
        );
        let msg = ReadError::EmptyKey { index: Some(0) }.to_string();
        assert!(msg.contains("keys[0]"), "{msg}");
        let msg = ReadError::TooManyKeys { count: 9, max: 8 }.to_string();
        assert!(msg.contains("max_batch 8"), "{msg}");
    }
}
