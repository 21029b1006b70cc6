//! Building a shard file from records in key order.

use std::io::Write;

use crate::{FormatError, Result};

/// Options for [`ShardBuilder`].
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Target size of a data block in bytes (a record larger than this gets a block
    /// of its own). Default 64 KiB.
    pub block_size: usize,
    /// Largest accepted value in bytes. Default [`crate::DEFAULT_MAX_VALUE_LEN`].
    pub max_value_len: u64,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            block_size: 64 * 1024,
            max_value_len: crate::DEFAULT_MAX_VALUE_LEN,
        }
    }
}

/// What a finished shard holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSummary {
    /// Number of records.
    pub records: u64,
    /// Total file size in bytes.
    pub bytes: u64,
    /// CRC32 (crc32fast, IEEE) of the whole file, as recorded in the manifest.
    pub crc32: u32,
}

/// Writes a shard to `W` sequentially. Keys must arrive in strictly increasing byte
/// order. Memory held: about 16 bytes per record for the index, plus one block.
pub struct ShardBuilder<W: Write> {
    out: W,
    opts: BuildOptions,
}

impl<W: Write> ShardBuilder<W> {
    /// Starts a shard, writing its header to `out`.
    pub fn new(out: W, opts: BuildOptions) -> Result<Self> {
        let _ = (&out, &opts);
        todo!("format: ShardBuilder::new")
    }

    /// Appends one record. Errors on a key out of order ([`FormatError::KeyOrder`]),
    /// a repeated key ([`FormatError::DuplicateKey`]) or a key/value over the limits.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let _ = (key, value, &self.out, &self.opts);
        Err(FormatError::Corrupt {
            detail: "unimplemented".into(),
        })
    }

    /// Writes the index, block table and footer; returns the writer and a summary.
    pub fn finish(self) -> Result<(W, ShardSummary)> {
        todo!("format: ShardBuilder::finish")
    }
}
