//! Byte layout of a shard: constants, header and footer encoding, index geometry.
//!
//! Every multi-byte integer is little-endian with an explicit width. FORMAT.md at the
//! repository root is the prose version of this file; keep the two in step.

use crate::{FormatError, Result, ShardFormat};

/// Magic bytes at offset 0.
pub(crate) const HEADER_MAGIC: [u8; 8] = *b"TUSKSHRD";
/// Magic bytes at the very end of the file.
pub(crate) const FOOTER_MAGIC: [u8; 8] = *b"TUSKEND1";
/// Header flag bit reserved for per-block compression (not implemented in v1).
pub(crate) const FLAG_BLOCK_COMPRESSION: u16 = 1;

/// Header: magic (8), version (2), flags (2), header CRC32 (4).
pub(crate) const HEADER_LEN: usize = 16;
/// Footer: see [`Footer`].
pub(crate) const FOOTER_LEN: usize = 64;
/// Bytes of footer covered by the footer CRC (everything before the CRC field).
pub(crate) const FOOTER_CRC_COVERS: usize = 52;
/// First byte of the data region (first record of the first block).
pub(crate) const DATA_START: u64 = HEADER_LEN as u64;

/// Index bucket size: one cache line.
pub(crate) const BUCKET_LEN: usize = 64;
/// Slots per bucket.
pub(crate) const SLOTS: usize = 8;
/// Low 47 bits of a slot: absolute file offset of the record (0 = empty slot).
pub(crate) const OFFSET_MASK: u64 = (1 << 47) - 1;
/// Bit 47 of slot `i` is bit `i` of the bucket's 8-bit overflow filter.
pub(crate) const OVERFLOW_BIT: u64 = 1 << 47;
/// Version 2: the low 40 bits of a slot hold the record offset.
pub(crate) const V2_OFFSET_MASK: u64 = (1 << 40) - 1;
/// Version 2: bits 40..47 of a slot hold the record check
/// ([`crate::record::record_check`]).
pub(crate) const V2_CHECK_SHIFT: u32 = 40;
/// Block table entry: offset (8), length (4), CRC32 (4).
pub(crate) const BLOCK_ENTRY_LEN: usize = 16;

/// Index buckets for `records` records: load factor 0.8 (6.4 keys per 8-slot bucket),
/// at least one bucket.
pub(crate) fn buckets_for(records: u64) -> u64 {
    // ceil(records / 6.4) == ceil(records * 5 / 32), computed without overflow.
    let n = u128::from(records) * 5;
    let b = n.div_ceil(32);
    u64::try_from(b).unwrap_or(u64::MAX).max(1)
}

/// Home bucket of an index hash: the high half of `h * nbuckets` (uniform, no modulo).
#[inline(always)]
pub(crate) fn home_bucket(h: u64, nbuckets: u64) -> u64 {
    ((u128::from(h) * u128::from(nbuckets)) >> 64) as u64
}

/// Bucket where a key's overflow chain starts when its home bucket was full: the same
/// multiply-shift over the hash rotated left by 16 bits (hash bits 47 and down), so it
/// is independent of the home bucket, the tag and the filter bit.
#[inline(always)]
pub(crate) fn second_bucket(h: u64, nbuckets: u64) -> u64 {
    home_bucket(h.rotate_left(16), nbuckets)
}

/// Which of the 8 overflow filter bits of its home bucket a key uses: hash bits 16..19.
#[inline(always)]
pub(crate) fn filter_bit(h: u64) -> u32 {
    ((h >> 16) & 7) as u32
}

/// Tag stored in the high 16 bits of a slot: the low 16 bits of the index hash.
#[inline(always)]
pub(crate) fn tag_of(h: u64) -> u64 {
    h & 0xFFFF
}

/// The index hash of a key (xxh3-64, seed 0).
#[inline(always)]
pub(crate) fn index_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Rounds `x` up to a multiple of 64 (`None` on overflow).
pub(crate) fn align64(x: u64) -> Option<u64> {
    x.checked_add(63).map(|v| v & !63)
}

/// Reads a little-endian u16 at `at` (caller guarantees bounds).
#[inline(always)]
pub(crate) fn le_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}

/// Reads a little-endian u32 at `at` (caller guarantees bounds).
#[inline(always)]
pub(crate) fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// Reads a little-endian u64 at `at` (caller guarantees bounds).
#[inline(always)]
pub(crate) fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Encodes the 16-byte header of a `format` file.
pub(crate) fn encode_header(format: ShardFormat, flags: u16) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&HEADER_MAGIC);
    h[8..10].copy_from_slice(&format.version().to_le_bytes());
    h[10..12].copy_from_slice(&flags.to_le_bytes());
    let crc = crc32fast::hash(&h[0..12]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks the header (magic, version, CRC, flags) and returns `(format, flags)`.
///
/// The version is checked before the CRC so a file of a newer format (whose header may
/// differ) gets a clear "upgrade" error instead of a checksum error.
pub(crate) fn decode_header(file: &[u8]) -> Result<(ShardFormat, u16)> {
    let h = file
        .get(..HEADER_LEN)
        .ok_or_else(|| FormatError::Truncated {
            detail: format!(
                "file is {} bytes, shorter than the {HEADER_LEN}-byte header",
                file.len()
            ),
        })?;
    if h[0..8] != HEADER_MAGIC {
        return Err(FormatError::BadMagic);
    }
    let version = le_u16(h, 8);
    let format = ShardFormat::from_version(version).ok_or(FormatError::UnsupportedVersion {
        newest: ShardFormat::newest().version(),
        got: version,
    })?;
    let stored = le_u32(h, 12);
    let actual = crc32fast::hash(&h[0..12]);
    if stored != actual {
        return Err(FormatError::ChecksumMismatch {
            region: "header".into(),
            offset: 0,
            expected: stored,
            actual,
        });
    }
    let flags = le_u16(h, 10);
    if flags & FLAG_BLOCK_COMPRESSION != 0 {
        return Err(FormatError::Corrupt {
            detail: "header flags at offset 10: per-block compression (bit 0) is reserved \
                     and not supported by this reader"
                .into(),
        });
    }
    if flags != 0 {
        return Err(FormatError::Corrupt {
            detail: format!("header flags at offset 10: unknown flag bits {flags:#06x}"),
        });
    }
    Ok((format, flags))
}

/// The fixed-size footer at the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    /// Number of records.
    pub records: u64,
    /// First byte after the last data block.
    pub data_end: u64,
    /// Number of 64-byte index buckets.
    pub index_buckets: u64,
    /// Number of data blocks (block table entries).
    pub blocks: u64,
    /// CRC32 of the index region: alignment padding plus buckets.
    pub index_crc: u32,
    /// CRC32 of the block table.
    pub table_crc: u32,
}

/// Where each section lives, derived from a footer and checked against the file length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sections {
    /// Start of the index (64-aligned, right after the data region and padding).
    pub index_offset: u64,
    /// Start of the block table.
    pub table_offset: u64,
    /// Start of the footer.
    pub footer_offset: u64,
}

impl Footer {
    /// Encodes the footer.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut f = [0u8; FOOTER_LEN];
        f[0..8].copy_from_slice(&self.records.to_le_bytes());
        f[8..16].copy_from_slice(&self.data_end.to_le_bytes());
        f[16..24].copy_from_slice(&self.index_buckets.to_le_bytes());
        f[24..32].copy_from_slice(&self.blocks.to_le_bytes());
        f[32..36].copy_from_slice(&self.index_crc.to_le_bytes());
        f[36..40].copy_from_slice(&self.table_crc.to_le_bytes());
        // 40..52 reserved (zero in v1, covered by the footer CRC)
        let crc = crc32fast::hash(&f[..FOOTER_CRC_COVERS]);
        f[52..56].copy_from_slice(&crc.to_le_bytes());
        f[56..64].copy_from_slice(&FOOTER_MAGIC);
        f
    }

    /// Decodes and checks the footer at the end of `file` (magic, CRC, reserved bytes).
    pub fn decode(file: &[u8]) -> Result<Footer> {
        let len = file.len();
        let min = HEADER_LEN + FOOTER_LEN;
        if len < min {
            return Err(FormatError::Truncated {
                detail: format!("file is {len} bytes, shorter than header + footer ({min})"),
            });
        }
        let at = len - FOOTER_LEN;
        let f = &file[at..];
        if f[56..64] != FOOTER_MAGIC {
            return Err(FormatError::Truncated {
                detail: format!(
                    "no footer magic at offset {} (file of {len} bytes is truncated or was \
                     not completely written)",
                    at + 56
                ),
            });
        }
        let stored = le_u32(f, 52);
        let actual = crc32fast::hash(&f[..FOOTER_CRC_COVERS]);
        if stored != actual {
            return Err(FormatError::ChecksumMismatch {
                region: "footer".into(),
                offset: at as u64,
                expected: stored,
                actual,
            });
        }
        if f[40..52].iter().any(|&b| b != 0) {
            return Err(FormatError::Corrupt {
                detail: format!("footer reserved bytes at offset {} are not zero", at + 40),
            });
        }
        Ok(Footer {
            records: le_u64(f, 0),
            data_end: le_u64(f, 8),
            index_buckets: le_u64(f, 16),
            blocks: le_u64(f, 24),
            index_crc: le_u32(f, 32),
            table_crc: le_u32(f, 36),
        })
    }

    /// Derives section offsets of a `format` file and checks that they tile the
    /// file exactly.
    pub fn sections(&self, file_len: u64, format: ShardFormat) -> Result<Sections> {
        let corrupt = |detail: String| FormatError::Corrupt { detail };
        if self.data_end < DATA_START {
            return Err(corrupt(format!(
                "footer data_end {} is before the data region start {DATA_START}",
                self.data_end
            )));
        }
        let data_len = self.data_end - DATA_START;
        if (self.blocks == 0) != (data_len == 0) || (self.records == 0) != (self.blocks == 0) {
            return Err(corrupt(format!(
                "footer says {} records in {} blocks over {data_len} data bytes",
                self.records, self.blocks
            )));
        }
        if self.blocks > self.records || self.records > data_len / format.min_record_len() {
            return Err(corrupt(format!(
                "footer says {} records in {} blocks, impossible in {data_len} data bytes",
                self.records, self.blocks
            )));
        }
        if self.index_buckets == 0 || self.records > self.index_buckets.saturating_mul(SLOTS as u64)
        {
            return Err(corrupt(format!(
                "footer says {} index buckets for {} records",
                self.index_buckets, self.records
            )));
        }
        let overflow = || corrupt("footer section sizes overflow".to_string());
        let index_offset = align64(self.data_end).ok_or_else(overflow)?;
        let table_offset = self
            .index_buckets
            .checked_mul(BUCKET_LEN as u64)
            .and_then(|n| n.checked_add(index_offset))
            .ok_or_else(overflow)?;
        let footer_offset = self
            .blocks
            .checked_mul(BLOCK_ENTRY_LEN as u64)
            .and_then(|n| n.checked_add(table_offset))
            .ok_or_else(overflow)?;
        let expected_len = footer_offset
            .checked_add(FOOTER_LEN as u64)
            .ok_or_else(overflow)?;
        if expected_len > file_len {
            return Err(FormatError::Truncated {
                detail: format!(
                    "footer describes a {expected_len}-byte file, found {file_len} bytes"
                ),
            });
        }
        if expected_len < file_len {
            return Err(corrupt(format!(
                "footer describes a {expected_len}-byte file, found {file_len} bytes"
            )));
        }
        if self.data_end > format.offset_mask() + 1 {
            return Err(corrupt(format!(
                "footer data_end {} exceeds the {}-bit record offset range of {format}",
                self.data_end,
                format.offset_mask().count_ones()
            )));
        }
        Ok(Sections {
            index_offset,
            table_offset,
            footer_offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_counts_follow_load_factor() {
        assert_eq!(buckets_for(0), 1);
        assert_eq!(buckets_for(1), 1);
        assert_eq!(buckets_for(6), 1);
        assert_eq!(buckets_for(7), 2);
        assert_eq!(buckets_for(64), 10);
        assert_eq!(buckets_for(1_000_000), 156_250);
        let huge = buckets_for(u64::MAX);
        assert!(huge > u64::MAX / 7 && huge < u64::MAX / 6);
    }

    #[test]
    fn home_bucket_is_in_range() {
        for nb in [1u64, 2, 3, 7, 1000, u64::MAX] {
            for h in [0u64, 1, u64::MAX / 2, u64::MAX] {
                assert!(home_bucket(h, nb) < nb);
            }
        }
    }

    #[test]
    fn footer_round_trips() {
        let f = Footer {
            records: 3,
            data_end: 40,
            index_buckets: 1,
            blocks: 1,
            index_crc: 7,
            table_crc: 9,
        };
        let mut file = vec![0u8; 64 + 64 + 16];
        file.extend_from_slice(&f.encode());
        assert_eq!(Footer::decode(&file).unwrap(), f);
        let s = f.sections(file.len() as u64, ShardFormat::V1).unwrap();
        assert_eq!(s.index_offset, 64);
        assert_eq!(s.table_offset, 128);
        assert_eq!(s.footer_offset, 144);
    }
}
