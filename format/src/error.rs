//! Errors of the shard format.

/// Result alias for this crate.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;

/// Everything that can go wrong building or reading a shard.
///
/// Reader errors never panic and never expose another key's bytes: a corrupted or
/// truncated file yields one of the `Corrupt`-class variants below.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// An I/O error while writing a shard.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start (or end) with the shard magic bytes.
    #[error("not a tusk shard file (bad magic bytes)")]
    BadMagic,
    /// The file was written by a format version this reader does not know.
    #[error(
        "unsupported shard format version {got} (this build reads versions 1 to {newest}); upgrade tusk"
    )]
    UnsupportedVersion {
        /// The newest version this reader supports.
        newest: u16,
        /// Version found in the file.
        got: u16,
    },
    /// The file is shorter than its header or footer says.
    #[error("shard is truncated: {detail}")]
    Truncated {
        /// What was missing.
        detail: String,
    },
    /// A structural field is out of range or inconsistent.
    #[error("shard is corrupt: {detail}")]
    Corrupt {
        /// Which field, at which offset.
        detail: String,
    },
    /// A region's CRC32 does not match its content.
    #[error(
        "checksum mismatch in {region} at offset {offset}: expected {expected:#010x}, computed {actual:#010x}"
    )]
    ChecksumMismatch {
        /// Which region (header, block N, index, footer, record).
        region: String,
        /// Byte offset of the region.
        offset: u64,
        /// Checksum stored in the file.
        expected: u32,
        /// Checksum computed from the bytes.
        actual: u32,
    },
    /// A key handed to the builder is longer than the limit.
    #[error("key of {len} bytes exceeds the limit of {max} bytes")]
    KeyTooLarge {
        /// Key length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A value handed to the builder is longer than the limit.
    #[error("value of {len} bytes exceeds the limit of {max} bytes")]
    ValueTooLarge {
        /// Value length.
        len: u64,
        /// Limit.
        max: u64,
    },
    /// Keys must be added in strictly increasing byte order.
    #[error("keys out of order: {key:?} added after {previous:?}")]
    KeyOrder {
        /// The previous key (lossy UTF-8, truncated for display).
        previous: String,
        /// The offending key (lossy UTF-8, truncated for display).
        key: String,
    },
    /// The same key was added twice.
    #[error("duplicate key {key:?}")]
    DuplicateKey {
        /// The key (lossy UTF-8, truncated for display).
        key: String,
    },
    /// The shard would outgrow what the format can address.
    #[error("shard would exceed the format's {limit} limit at key {key:?}")]
    TooLarge {
        /// The limit, for people ("128 TiB of data").
        limit: &'static str,
        /// The key being added (lossy UTF-8, truncated for display).
        key: String,
    },
    /// The builder failed earlier (an I/O error) and cannot go on: its output is
    /// incomplete.
    #[error("shard builder already failed on an earlier i/o error")]
    BuilderFailed,
}

impl FormatError {
    /// True when the error means the file's bytes are damaged (as opposed to a
    /// caller error or an I/O failure).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            FormatError::BadMagic
                | FormatError::UnsupportedVersion { .. }
                | FormatError::Truncated { .. }
                | FormatError::Corrupt { .. }
                | FormatError::ChecksumMismatch { .. }
        )
    }
}
