//! One record: `varint key_len, varint value_len, key, value, u32 crc`.
//!
//! The CRC is CRC-32 (IEEE) of every preceding byte of the record, started from the
//! low 32 bits of the record's absolute file offset (zlib: `crc32(offset as u32,
//! bytes)`). Seeding with the position means a damaged index slot that points into the
//! middle of a value can never land on a record that checks out, even if the value
//! happens to contain a well-formed record.

use crate::layout::{RECORD_CRC_LEN, le_u32};
use crate::{FormatError, MAX_KEY_LEN, Result, varint};

/// A parsed, checksum-verified record borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    /// The key bytes.
    pub key: &'a [u8],
    /// The value bytes.
    pub value: &'a [u8],
    /// File offset just past the record's CRC.
    pub end: usize,
}

/// Computes a record's CRC over `bytes` (the record without its CRC) at file `offset`.
#[inline]
pub(crate) fn record_crc(offset: u64, bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(offset as u32);
    h.update(bytes);
    h.finalize()
}

/// Encoded length of a record.
pub(crate) fn encoded_len(key_len: usize, value_len: u64) -> u64 {
    let (_, kn) = varint::encode_array(key_len as u64);
    let (_, vn) = varint::encode_array(value_len);
    (kn + vn + key_len + RECORD_CRC_LEN) as u64 + value_len
}

/// Appends the record for `key`/`value` placed at file `offset` to `out`.
pub(crate) fn encode(offset: u64, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    varint::encode(key.len() as u64, out);
    varint::encode(value.len() as u64, out);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let crc = record_crc(offset, &out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn corrupt(offset: usize, what: &str) -> FormatError {
    FormatError::Corrupt {
        detail: format!("record at offset {offset}: {what}"),
    }
}

/// Parses the record at `offset`, which must end at or before `limit`, and checks its
/// CRC. Never reads outside `file[..limit]`.
#[inline]
pub(crate) fn read(file: &[u8], offset: usize, limit: usize) -> Result<Record<'_>> {
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
        .checked_add(RECORD_CRC_LEN)
        .filter(|&e| e <= file.len())
        .ok_or_else(|| corrupt(offset, "record runs past the data region"))?;
    // All indices below are within file[..end], checked just above.
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
        let mut file = vec![0u8; 16];
        encode(16, b"key", b"value", &mut file);
        let len = file.len();
        assert_eq!(encoded_len(3, 5) as usize, len - 16);
        let r = read(&file, 16, len).unwrap();
        assert_eq!((r.key, r.value, r.end), (&b"key"[..], &b"value"[..], len));
        // The CRC is bound to the offset: the same bytes elsewhere do not check out.
        let mut moved = vec![0u8; 17];
        moved.extend_from_slice(&file[16..]);
        assert!(read(&moved, 17, moved.len()).is_err());
        // A limit that cuts the record is an error, not a short read.
        assert!(read(&file, 16, len - 1).is_err());
    }
}
