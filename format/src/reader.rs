//! Reading a shard: constant-time open, point lookups, scans, full verification.

use crate::layout::{
    BUCKET_LEN, DATA_START, Footer, OFFSET_MASK, OVERFLOW_BIT, Sections, decode_header, filter_bit,
    home_bucket, index_hash, second_bucket, tag_of,
};
use crate::{FormatError, Result, record, verify};

pub use crate::iter::Iter;

/// What one bucket said about a key.
enum Scan<'a> {
    /// The key's record, with this value.
    Found(&'a [u8]),
    /// Not here, and the bucket has an empty slot (an overflow chain ends here).
    HasEmpty,
    /// Not here, and every slot is taken.
    Full,
}

/// Facts about an open shard, read from its header and footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// Shard format version of the file.
    pub format_version: u16,
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

/// An open shard over any byte container (`Vec<u8>`, `memmap2::Mmap`, ...).
///
/// `open` checks magic, format version, sizes and the footer in constant time;
/// [`Shard::verify`] checks every checksum in one pass.
pub struct Shard<B> {
    bytes: B,
    version: u16,
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
        let (version, flags) = decode_header(file)?;
        let footer = Footer::decode(file)?;
        let sections = footer.sections(file.len() as u64)?;
        // Both offsets are below the file length (checked by `sections`), so they fit.
        let index_off = sections.index_offset as usize;
        let data_end = footer.data_end as usize;
        Ok(Shard {
            bytes,
            version,
            flags,
            footer,
            sections,
            index_off,
            data_end,
        })
    }

    /// Looks up `key`. `Ok(None)` when absent; an error when the bytes the lookup
    /// touched are corrupt. Never returns another key's value.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        let file = self.bytes.as_ref();
        let h = index_hash(key);
        let tag = tag_of(h);
        let nbuckets = self.footer.index_buckets;
        let home = self.bucket(file, home_bucket(h, nbuckets))?;
        if let Scan::Found(value) = self.scan(file, home, tag, key)? {
            return Ok(Some(value));
        }
        // Only keys whose filter bit is set in their home bucket went anywhere else.
        let (slots, _) = home.as_chunks::<8>();
        if u64::from_le_bytes(slots[filter_bit(h) as usize]) & OVERFLOW_BIT == 0 {
            return Ok(None);
        }
        let mut b = second_bucket(h, nbuckets);
        // Bounded by the bucket count: a damaged index with no empty slot cannot loop.
        for _ in 0..nbuckets {
            match self.scan(file, self.bucket(file, b)?, tag, key)? {
                Scan::Found(value) => return Ok(Some(value)),
                Scan::HasEmpty => return Ok(None),
                Scan::Full => {}
            }
            b += 1;
            if b == nbuckets {
                b = 0;
            }
        }
        Ok(None)
    }

    /// The 64 bytes of bucket `b` (< nbuckets).
    #[inline(always)]
    fn bucket<'a>(&self, file: &'a [u8], b: u64) -> Result<&'a [u8; BUCKET_LEN]> {
        // b < nbuckets and the index lies inside the file (checked at open), so this
        // cannot overflow; `get` keeps it panic-free regardless.
        let start = self.index_off + b as usize * BUCKET_LEN;
        file.get(start..start + BUCKET_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| FormatError::Corrupt {
                detail: format!("index bucket {b} at offset {start} is out of bounds"),
            })
    }

    /// Looks for `key` among the slots of one bucket whose tag matches.
    #[inline(always)]
    fn scan<'a>(
        &self,
        file: &'a [u8],
        bucket: &[u8; BUCKET_LEN],
        tag: u64,
        key: &[u8],
    ) -> Result<Scan<'a>> {
        let (slots, _) = bucket.as_chunks::<8>();
        let mut has_empty = false;
        for slot in slots {
            let s = u64::from_le_bytes(*slot);
            let offset = s & OFFSET_MASK;
            if offset == 0 {
                has_empty = true;
            } else if s >> 48 == tag
                && let Some(value) = self.candidate(file, offset, key)?
            {
                return Ok(Scan::Found(value));
            }
        }
        Ok(if has_empty {
            Scan::HasEmpty
        } else {
            Scan::Full
        })
    }

    /// Checks the record a tag-matching slot points at; `Some(value)` if it is `key`'s.
    /// The record's CRC is checked before the key is compared, so a damaged length
    /// field of the wanted record is an error, never a silent miss.
    #[inline]
    fn candidate<'a>(&self, file: &'a [u8], offset: u64, key: &[u8]) -> Result<Option<&'a [u8]>> {
        if offset < DATA_START || offset >= self.footer.data_end {
            return Err(FormatError::Corrupt {
                detail: format!("index slot points at offset {offset}, outside the data region"),
            });
        }
        let rec = record::read(file, offset as usize, self.data_end)?;
        Ok((rec.key == key).then_some(rec.value))
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
        verify::verify(self.bytes.as_ref(), &self.footer, &self.sections)
    }

    /// Iterates over all records in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new(self.bytes.as_ref(), self.data_end, self.footer.records)
    }

    /// Header and footer facts.
    pub fn info(&self) -> ShardInfo {
        ShardInfo {
            format_version: self.version,
            flags: self.flags,
            records: self.footer.records,
            blocks: self.footer.blocks,
            index_buckets: self.footer.index_buckets,
            file_bytes: self.bytes.as_ref().len() as u64,
            data_bytes: self.footer.data_end - DATA_START,
            index_bytes: self.sections.table_offset - self.sections.index_offset,
        }
    }

    /// Number of records.
    pub fn len(&self) -> u64 {
        self.footer.records
    }

    /// True when the shard holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
