//! One record: `varint key_len, varint value_len, key, value`, and in version 1 a
//! `u32 crc` after the value.
//!
//! Version 1's CRC is CRC-32 (IEEE) of every preceding byte of the record, started
//! from the low 32 bits of the record's absolute file offset (zlib: `crc32(offset as
//! u32, bytes)`). Seeding with the position means a damaged index slot that points
//! into the middle of a value can never land on a record that checks out, even if
//! the value happens to contain a well-formed record.
//!
//! Version 2 records carry no CRC: the block CRCs cover them when a file is verified.
//! The index slot pointing at a record holds its [`record_check`] instead, which a
//! lookup compares, so a damaged length or slot offset is an error rather than a
//! value cut short or run into the next record.

use crate::layout::{V2_CHECK_SHIFT, le_u32};
use crate::{FormatError, MAX_KEY_LEN, Result, ShardFormat, varint};

/// A parsed record borrowed from the file (in version 1, checksum-verified).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    /// The key bytes.
    pub key: &'a [u8],
    /// The value bytes.
    pub value: &'a [u8],
    /// File offset just past the record.
    pub end: usize,
}

/// Computes a version 1 record's CRC over `bytes` (the record without its CRC) at
/// file `offset`.
#[inline]
pub(crate) fn record_crc(offset: u64, bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(offset as u32);
    h.update(bytes);
    h.finalize()
}

/// The 7-bit check a version 2 index slot holds for the record at `offset` with
/// these lengths: the XOR of the 7-bit groups of `offset ^ value_len <<< 21 ^
/// key_len <<< 42`. A single flipped bit in the offset or in either length changes
/// exactly one bit of the check, so it is always caught; other damage is caught
/// 127 times in 128.
#[inline(always)]
pub(crate) fn record_check(offset: u64, key_len: usize, value_len: usize) -> u64 {
    let x = offset ^ (value_len as u64).rotate_left(21) ^ (key_len as u64).rotate_left(42);
    let folded = x
        ^ (x >> 7)
        ^ (x >> 14)
        ^ (x >> 21)
        ^ (x >> 28)
        ^ (x >> 35)
        ^ (x >> 42)
        ^ (x >> 49)
        ^ (x >> 56)
        ^ (x >> 63);
    folded & 0x7F
}

/// Version 2: checks that index `slot` holds the [`record_check`] of `rec`, the
/// record at `offset` it points at.
#[inline(always)]
pub(crate) fn check_slot(slot: u64, offset: u64, rec: &Record<'_>) -> Result<()> {
    let stored = (slot >> V2_CHECK_SHIFT) & 0x7F;
    if stored != record_check(offset, rec.key.len(), rec.value.len()) {
        return Err(corrupt(
            offset as usize,
            "its lengths do not match the index slot's check",
        ));
    }
    Ok(())
}

/// Encoded length of a record in `format`.
pub(crate) fn encoded_len(format: ShardFormat, key_len: usize, value_len: u64) -> u64 {
    let (_, kn) = varint::encode_array(key_len as u64);
    let (_, vn) = varint::encode_array(value_len);
    (kn + vn + key_len + format.record_crc_len()) as u64 + value_len
}

/// Appends the `format` record for `key`/`value` placed at file `offset` to `out`.
pub(crate) fn encode(
    format: ShardFormat,
    offset: u64,
    key: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) {
    let start = out.len();
    varint::encode(key.len() as u64, out);
    varint::encode(value.len() as u64, out);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    if format == ShardFormat::V1 {
        let crc = record_crc(offset, &out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }
}

fn corrupt(offset: usize, what: &str) -> FormatError {
    FormatError::Corrupt {
        detail: format!("record at offset {offset}: {what}"),
    }
}

/// Parses the `format` record at `offset`, which must end at or before `limit`, and
/// in version 1 checks its CRC. Never reads outside `file[..limit]`.
#[inline]
pub(crate) fn read(
    file: &[u8],
    offset: usize,
    limit: usize,
    format: ShardFormat,
) -> Result<Record<'_>> {
    let file = file
        .get(..limit)
        .ok_or_else(|| corrupt(offset, "past the file end"))?;
    let (klen, p) =
        varint::decode(file, offset).ok_or_else(|| corrupt(offset, "bad key length"))?;
    let (vlen, p) = varint::decode(file, p).ok_or_else(|| corrupt(offset, "bad value length"))?;
    if klen > MAX_KEY_LEN as u64 {
        return Err(corrupt(offset, "key length over the 64 KiB limit"));
    }
    let key_end = p
        .checked_add(klen as usize)
        .ok_or_else(|| corrupt(offset, "key runs past the data region"))?;
    let value_end = usize::try_from(vlen)
        .ok()
        .and_then(|v| key_end.checked_add(v))
        .ok_or_else(|| corrupt(offset, "value runs past the data region"))?;
    let end = value_end
        .checked_add(format.record_crc_len())
        .filter(|&e| e <= file.len())
        .ok_or_else(|| corrupt(offset, "record runs past the data region"))?;
    // All indices below are within file[..end], checked just above.
    if format == ShardFormat::V1 {
        let body = &file[offset..value_end];
        let stored = le_u32(file, value_end);
        let actual = record_crc(offset as u64, body);
        if stored != actual {
            return Err(FormatError::ChecksumMismatch {
                region: "record".into(),
                offset: offset as u64,
                expected: stored,
                actual,
            });
        }
    }
    Ok(Record {
        key: &file[p..key_end],
        value: &file[key_end..value_end],
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_read() {
        for format in ShardFormat::ALL {
            let mut file = vec![0u8; 16];
            encode(format, 16, b"key", b"value", &mut file);
            let len = file.len();
            assert_eq!(encoded_len(format, 3, 5) as usize, len - 16);
            assert_eq!(len - 16, 2 + 3 + 5 + format.record_crc_len());
            let r = read(&file, 16, len, format).unwrap();
            assert_eq!((r.key, r.value, r.end), (&b"key"[..], &b"value"[..], len));
            // A limit that cuts the record is an error, not a short read.
            assert!(read(&file, 16, len - 1, format).is_err());
        }
    }

    #[test]
    fn a_v1_crc_is_bound_to_the_offset() {
        let mut file = vec![0u8; 16];
        encode(ShardFormat::V1, 16, b"key", b"value", &mut file);
        let mut moved = vec![0u8; 17];
        moved.extend_from_slice(&file[16..]);
        assert!(read(&moved, 17, moved.len(), ShardFormat::V1).is_err());
    }

    #[test]
    fn the_check_catches_every_single_bit_flip_of_offset_and_lengths() {
        let (offset, klen, vlen) = (123_456_789u64, 24usize, 150usize);
        let check = record_check(offset, klen, vlen);
        assert!(check < 128);
        for bit in 0..40 {
            assert_ne!(
                record_check(offset ^ (1 << bit), klen, vlen),
                check,
                "offset bit {bit}"
            );
        }
        for bit in 0..17 {
            assert_ne!(
                record_check(offset, klen ^ (1 << bit), vlen),
                check,
                "key_len bit {bit}"
            );
        }
        for bit in 0..32 {
            assert_ne!(
                record_check(offset, klen, vlen ^ (1 << bit)),
                check,
                "value_len bit {bit}"
            );
        }
    }
}
