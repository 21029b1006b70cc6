//! Building a shard file from records in key order.

use std::io::{self, Write};

use crate::layout::{
    BLOCK_ENTRY_LEN, BUCKET_LEN, DATA_START, Footer, SLOTS, V2_CHECK_SHIFT, align64, buckets_for,
    encode_header, index_hash,
};
use crate::{FormatError, MAX_KEY_LEN, Result, ShardFormat, index, record, varint};

/// Hard ceiling on a value: a record (with its key and framing) must fit the 32-bit
/// block length of the block table.
const HARD_MAX_VALUE_LEN: u64 = u32::MAX as u64 - MAX_KEY_LEN as u64 - 64;
/// Ceiling on the block size target (a block length is a u32).
const MAX_BLOCK_SIZE: usize = 1 << 30;

/// Options for [`ShardBuilder`].
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Target size of a data block in bytes (a record larger than this gets a block
    /// of its own). Default 64 KiB.
    pub block_size: usize,
    /// Largest accepted value in bytes. Default [`crate::DEFAULT_MAX_VALUE_LEN`].
    /// Values are also capped at a little under 4 GiB by the format.
    pub max_value_len: u64,
    /// The format version to write. Default [`ShardFormat::default`] (version 2);
    /// version 1 is for fleets with servers that read only version 1.
    pub format: ShardFormat,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            block_size: 64 * 1024,
            max_value_len: crate::DEFAULT_MAX_VALUE_LEN,
            format: ShardFormat::default(),
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
    /// XXH3-128 (seed 0) of the whole file: its content hash, which the manifest
    /// records so a server can tell a shard it already holds from one it must fetch.
    pub content_hash: u128,
}

/// The output, with the running position and the whole-file CRC and content hash.
struct Sink<W> {
    out: W,
    pos: u64,
    crc: crc32fast::Hasher,
    hash: xxhash_rust::xxh3::Xxh3Default,
}

impl<W: Write> Sink<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.crc.update(bytes);
        self.hash.update(bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }
}

/// Writes a shard to `W` sequentially. Keys must arrive in strictly increasing byte
/// order. Memory held: about 16 bytes per record for the index, plus one block.
pub struct ShardBuilder<W: Write> {
    sink: Sink<W>,
    format: ShardFormat,
    block_size: usize,
    max_value_len: u64,
    /// Records of the block being filled.
    block: Vec<u8>,
    /// Encoded block table entries.
    table: Vec<u8>,
    blocks: u64,
    /// `(index hash, slot's low bits)` of every record so far: the record offset,
    /// and in version 2 its check.
    entries: Vec<(u64, u64)>,
    last_key: Vec<u8>,
    records: u64,
    /// Set after an I/O error: the output is in an unknown state.
    failed: bool,
}

/// Lossy UTF-8 of a key, cut to about 100 characters, for error messages.
fn display_key(key: &[u8]) -> String {
    const MAX: usize = 100;
    let s = String::from_utf8_lossy(key);
    if s.chars().count() <= MAX {
        s.into_owned()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

impl<W: Write> ShardBuilder<W> {
    /// Starts a shard, writing its header to `out`.
    pub fn new(out: W, opts: BuildOptions) -> Result<Self> {
        let mut sink = Sink {
            out,
            pos: 0,
            crc: crc32fast::Hasher::new(),
            hash: xxhash_rust::xxh3::Xxh3Default::new(),
        };
        sink.put(&encode_header(opts.format, 0))?;
        debug_assert_eq!(sink.pos, DATA_START);
        let block_size = opts.block_size.clamp(1, MAX_BLOCK_SIZE);
        Ok(ShardBuilder {
            sink,
            format: opts.format,
            block_size,
            max_value_len: opts.max_value_len.min(HARD_MAX_VALUE_LEN),
            block: Vec::with_capacity(block_size.min(1 << 20)),
            table: Vec::new(),
            blocks: 0,
            entries: Vec::new(),
            last_key: Vec::new(),
            records: 0,
            failed: false,
        })
    }

    /// Appends one record. Errors on a key out of order ([`FormatError::KeyOrder`]),
    /// a repeated key ([`FormatError::DuplicateKey`]) or a key/value over the limits.
    /// A rejected record leaves the builder usable; an I/O error does not.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_usable()?;
        if key.len() > MAX_KEY_LEN {
            return Err(FormatError::KeyTooLarge {
                len: key.len(),
                max: MAX_KEY_LEN,
            });
        }
        if value.len() as u64 > self.max_value_len {
            return Err(FormatError::ValueTooLarge {
                len: value.len() as u64,
                max: self.max_value_len,
            });
        }
        if self.records > 0 {
            match key.cmp(&self.last_key) {
                std::cmp::Ordering::Greater => {}
                std::cmp::Ordering::Equal => {
                    return Err(FormatError::DuplicateKey {
                        key: display_key(key),
                    });
                }
                std::cmp::Ordering::Less => {
                    return Err(FormatError::KeyOrder {
                        previous: display_key(&self.last_key),
                        key: display_key(key),
                    });
                }
            }
        }
        let rec_len = record::encoded_len(self.format, key.len(), value.len() as u64);
        let fits = (self.block.len() as u64).saturating_add(rec_len) <= self.block_size as u64;
        if !self.block.is_empty() && !fits {
            self.guard(|b| b.flush_block())?;
        }
        let offset = self.sink.pos + self.block.len() as u64;
        if offset.saturating_add(rec_len) > self.format.offset_mask() {
            return Err(FormatError::TooLarge {
                limit: match self.format {
                    ShardFormat::V1 => "128 TiB data",
                    ShardFormat::V2 => "1 TiB data",
                },
                key: display_key(key),
            });
        }
        if rec_len > self.block_size as u64 {
            self.guard(|b| b.write_large(offset, key, value))?;
        } else {
            record::encode(self.format, offset, key, value, &mut self.block);
            if self.block.len() >= self.block_size {
                self.guard(|b| b.flush_block())?;
            }
        }
        let low = match self.format {
            ShardFormat::V1 => offset,
            ShardFormat::V2 => {
                offset | record::record_check(offset, key.len(), value.len()) << V2_CHECK_SHIFT
            }
        };
        self.entries.push((index_hash(key), low));
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.records += 1;
        Ok(())
    }

    /// Writes the index, block table and footer; returns the writer and a summary.
    pub fn finish(mut self) -> Result<(W, ShardSummary)> {
        self.check_usable()?;
        self.flush_block()?;
        let data_end = self.sink.pos;

        // Index region: zero padding up to a 64-byte boundary, then the buckets.
        let mut index_crc = crc32fast::Hasher::new();
        let index_offset = align64(data_end).ok_or_else(|| io::Error::other("offset overflow"))?;
        let pad = [0u8; BUCKET_LEN];
        let pad = &pad[..(index_offset - data_end) as usize];
        index_crc.update(pad);
        self.sink.put(pad)?;
        let nbuckets = buckets_for(self.records);
        let slots = index::build(&self.entries, nbuckets);
        self.entries = Vec::new();
        let mut chunk = Vec::with_capacity(1024 * BUCKET_LEN);
        for group in slots.chunks(1024 * SLOTS) {
            chunk.clear();
            for slot in group {
                chunk.extend_from_slice(&slot.to_le_bytes());
            }
            index_crc.update(&chunk);
            self.sink.put(&chunk)?;
        }
        drop(slots);

        let table_crc = crc32fast::hash(&self.table);
        self.sink.put(&self.table)?;
        let footer = Footer {
            records: self.records,
            data_end,
            index_buckets: nbuckets,
            blocks: self.blocks,
            index_crc: index_crc.finalize(),
            table_crc,
        };
        self.sink.put(&footer.encode())?;
        self.sink.out.flush()?;
        let summary = ShardSummary {
            records: self.records,
            bytes: self.sink.pos,
            crc32: self.sink.crc.finalize(),
            content_hash: self.sink.hash.digest128(),
        };
        Ok((self.sink.out, summary))
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(FormatError::BuilderFailed);
        }
        Ok(())
    }

    /// Runs a write step, marking the builder failed if it errors.
    fn guard(&mut self, step: impl FnOnce(&mut Self) -> io::Result<()>) -> Result<()> {
        step(self).map_err(|e| {
            self.failed = true;
            FormatError::Io(e)
        })
    }

    fn push_block(&mut self, offset: u64, len: u64, crc: u32) {
        let mut entry = [0u8; BLOCK_ENTRY_LEN];
        entry[0..8].copy_from_slice(&offset.to_le_bytes());
        // A block holds at most MAX_BLOCK_SIZE bytes or one record under 4 GiB.
        entry[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        entry[12..16].copy_from_slice(&crc.to_le_bytes());
        self.table.extend_from_slice(&entry);
        self.blocks += 1;
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let offset = self.sink.pos;
        let crc = crc32fast::hash(&self.block);
        self.sink.put(&self.block)?;
        let len = self.block.len() as u64;
        self.push_block(offset, len, crc);
        self.block.clear();
        Ok(())
    }

    /// Writes one record bigger than the block target straight through, as its own
    /// block, without copying it into the block buffer.
    fn write_large(&mut self, offset: u64, key: &[u8], value: &[u8]) -> io::Result<()> {
        let mut head = Vec::with_capacity(2 * varint::MAX_LEN);
        varint::encode(key.len() as u64, &mut head);
        varint::encode(value.len() as u64, &mut head);
        let mut rec_crc = crc32fast::Hasher::new_with_initial(offset as u32);
        let mut block_crc = crc32fast::Hasher::new();
        for part in [&head[..], key, value] {
            if self.format == ShardFormat::V1 {
                rec_crc.update(part);
            }
            block_crc.update(part);
            self.sink.put(part)?;
        }
        if self.format == ShardFormat::V1 {
            let trailer = rec_crc.finalize().to_le_bytes();
            block_crc.update(&trailer);
            self.sink.put(&trailer)?;
        }
        let len = self.sink.pos - offset;
        self.push_block(offset, len, block_crc.finalize());
        Ok(())
    }
}
