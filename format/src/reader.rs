//! Reading a shard: constant-time open, point lookups, scans, full verification.

use crate::index::{IndexView, prefetch_record};
use crate::layout::{DATA_START, Footer, Sections, decode_header, index_hash};
use crate::{FormatError, Result, ShardFormat, record, verify};

pub use crate::iter::Iter;

/// Facts about an open shard, read from its header and footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// Shard format version of the file (the header's number, as in
    /// [`ShardFormat::version`]).
    pub format_version: u16,
    /// The file's format.
    pub format: ShardFormat,
    /// Header flags.
    pub flags: u16,
    /// Number of records.
    pub records: u64,
    /// Number of data blocks.
    pub blocks: u64,
    /// Number of 64-byte index buckets.
    pub index_buckets: u64,
    /// Total file size.
    pub file_bytes: u64,
    /// Bytes of record data (keys, values, per-record framing).
    pub data_bytes: u64,
    /// Bytes of the hash index.
    pub index_bytes: u64,
}

/// Bytes of a record [`Shard::prefetch_records`] asks for: four cache lines,
/// which hold a record of a 24-byte key and a 150-byte value (a version 1
/// lookup reads the CRC at the record's end before anything else of it is
/// used; a server copies the whole value into its answer). Larger records are
/// read on from there by the CPU's own prefetcher.
pub const PREFETCH_RECORD_BYTES: usize = 256;

/// A key's index hash, computed once for [`Shard::prefetch_bucket`],
/// [`Shard::prefetch_records`] and [`Shard::get_probed`]. It depends on the
/// key only, so one probe serves every shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    hash: u64,
}

impl Probe {
    /// The probe of `key`.
    #[inline]
    pub fn new(key: &[u8]) -> Probe {
        Probe {
            hash: index_hash(key),
        }
    }
}

/// An open shard over any byte container (`Vec<u8>`, `memmap2::Mmap`, ...).
///
/// `open` checks magic, format version, sizes and the footer in constant time;
/// [`Shard::verify`] checks every checksum in one pass.
pub struct Shard<B> {
    bytes: B,
    format: ShardFormat,
    flags: u16,
    footer: Footer,
    sections: Sections,
    /// `sections.index_offset` as usize (fits: it is below the file length).
    index_off: usize,
    /// `footer.data_end` as usize.
    data_end: usize,
}

impl<B> std::fmt::Debug for Shard<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("records", &self.footer.records)
            .field("blocks", &self.footer.blocks)
            .field("index_buckets", &self.footer.index_buckets)
            .field("file_bytes", &(self.sections.footer_offset + 64))
            .finish()
    }
}

impl<B: AsRef<[u8]>> Shard<B> {
    /// Opens a shard, checking header, footer and section bounds (constant time).
    pub fn open(bytes: B) -> Result<Self> {
        let file = bytes.as_ref();
        let (format, flags) = decode_header(file)?;
        let footer = Footer::decode(file)?;
        let sections = footer.sections(file.len() as u64, format)?;
        // Both offsets are below the file length (checked by `sections`), so they fit.
        let index_off = sections.index_offset as usize;
        let data_end = footer.data_end as usize;
        Ok(Shard {
            bytes,
            format,
            flags,
            footer,
            sections,
            index_off,
            data_end,
        })
    }

    /// Looks up `key`. `Ok(None)` when absent; an error when the bytes the lookup
    /// checks are corrupt (FORMAT.md, "What the reader guarantees", says which
    /// those are in each version). Never returns another key's value.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        self.get_probed(key, Probe::new(key))
    }

    /// [`Shard::get`] with `key`'s [`Probe`] computed already (by
    /// [`Probe::new`] on this very key; another key's probe finds nothing, or
    /// an error, never a wrong value).
    #[inline]
    pub fn get_probed(&self, key: &[u8], probe: Probe) -> Result<Option<&[u8]>> {
        let file = self.bytes.as_ref();
        self.index(file).probe(probe.hash, |offset, slot| {
            self.candidate(file, offset, slot, key)
        })
    }

    /// Hints the CPU to fetch the index bucket a lookup of `probe` reads first.
    /// Returns at once: issue it for many keys, then look them up, so their
    /// memory accesses overlap instead of waiting one after another.
    #[inline]
    pub fn prefetch_bucket(&self, probe: Probe) {
        self.index(self.bytes.as_ref()).prefetch_bucket(probe.hash);
    }

    /// Reads `probe`'s home bucket (after [`Shard::prefetch_bucket`] it is
    /// in cache) and hints the CPU to fetch the first [`PREFETCH_RECORD_BYTES`]
    /// of each record it may point at. Returns at once.
    #[inline]
    pub fn prefetch_records(&self, probe: Probe) {
        let file = self.bytes.as_ref();
        self.index(file).candidates(probe.hash, |offset| {
            let Some(record) = file.get(offset as usize..self.data_end) else {
                return;
            };
            prefetch_record(record);
        });
    }

    fn index<'a>(&self, file: &'a [u8]) -> IndexView<'a> {
        IndexView {
            file,
            offset: self.index_off,
            nbuckets: self.footer.index_buckets,
            format: self.format,
        }
    }

    /// Checks the record a tag-matching `slot` points at; `Some(value)` if it is
    /// `key`'s. In version 1 the record's CRC is checked before the key is compared,
    /// so a damaged length field of the wanted record is an error, never a silent
    /// miss. In version 2 the slot's record check must match the record's offset and
    /// lengths once the key matched, so a damaged length or slot is an error, never
    /// a value cut short or running into the next record.
    #[inline]
    fn candidate<'a>(
        &self,
        file: &'a [u8],
        offset: u64,
        slot: u64,
        key: &[u8],
    ) -> Result<Option<&'a [u8]>> {
        if offset < DATA_START || offset >= self.footer.data_end {
            return Err(FormatError::Corrupt {
                detail: format!("index slot points at offset {offset}, outside the data region"),
            });
        }
        let rec = record::read(file, offset as usize, self.data_end, self.format)?;
        if rec.key != key {
            return Ok(None);
        }
        if self.format == ShardFormat::V2 {
            record::check_slot(slot, offset, &rec)?;
        }
        Ok(Some(rec.value))
    }

    /// Verifies every checksum in the file in one sequential pass, plus the record
    /// framing, key order, record count and index contents. After `Ok(())`, every
    /// `get` and the whole `iter` succeed.
    pub fn verify(&self) -> Result<()> {
        self.verify_with_crc32().map(|_| ())
    }

    /// Like [`Shard::verify`], and also returns the CRC32 of the whole file (the
    /// checksum a manifest records), computed in the same pass without hashing any
    /// byte twice.
    pub fn verify_with_crc32(&self) -> Result<u32> {
        verify::verify(
            self.bytes.as_ref(),
            self.format,
            &self.footer,
            &self.sections,
        )
    }

    /// Iterates over all records in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new(
            self.bytes.as_ref(),
            self.format,
            self.data_end,
            self.footer.records,
        )
    }

    /// Header and footer facts.
    pub fn info(&self) -> ShardInfo {
        ShardInfo {
            format_version: self.format.version(),
            format: self.format,
            flags: self.flags,
            records: self.footer.records,
            blocks: self.footer.blocks,
            index_buckets: self.footer.index_buckets,
            file_bytes: self.bytes.as_ref().len() as u64,
            data_bytes: self.footer.data_end - DATA_START,
            index_bytes: self.sections.table_offset - self.sections.index_offset,
        }
    }

    /// The file's format.
    pub fn format(&self) -> ShardFormat {
        self.format
    }

    /// Number of records.
    pub fn len(&self) -> u64 {
        self.footer.records
    }

    /// True when the shard holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the hash index lies in the file (byte offsets): the region every
    /// lookup touches first, worth paging in before a shard starts serving
    /// (`madvise` on the container from [`Shard::inner`]).
    pub fn index_range(&self) -> std::ops::Range<usize> {
        // Both offsets are below the file length (checked at open), so they fit.
        self.index_off..self.sections.table_offset as usize
    }

    /// The underlying container, e.g. to give the kernel advice on a map.
    pub fn inner(&self) -> &B {
        &self.bytes
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// Gives back the underlying container.
    pub fn into_inner(self) -> B {
        self.bytes
    }
}
