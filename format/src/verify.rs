//! The full verification pass behind [`crate::Shard::verify`].
//!
//! One pass in file order: header, each data block (CRC against the block table, then
//! its records: framing, version 1's record CRC, key order, the index path to each
//! record and version 2's record check in its slot), the index region (CRC, zero
//! padding, slot count and slot contents against the records), the block table and
//! the footer.
//! The whole-file CRC32 is assembled from the region CRCs with `combine`, so no byte
//! is hashed twice for it.

use crate::index::IndexView;
use crate::layout::{
    BLOCK_ENTRY_LEN, DATA_START, FOOTER_LEN, Footer, HEADER_LEN, OVERFLOW_BIT, SLOTS, Sections,
    decode_header, index_hash, le_u32, le_u64,
};
use crate::{FormatError, Result, ShardFormat, record};

fn corrupt(detail: String) -> FormatError {
    FormatError::Corrupt { detail }
}

/// Compares a region's computed CRC with the stored one.
fn check_crc(
    region: impl Into<String>,
    offset: u64,
    stored: u32,
    h: &crc32fast::Hasher,
) -> Result<()> {
    let actual = h.clone().finalize();
    if stored != actual {
        return Err(FormatError::ChecksumMismatch {
            region: region.into(),
            offset,
            expected: stored,
            actual,
        });
    }
    Ok(())
}

fn hasher_of(bytes: &[u8]) -> crc32fast::Hasher {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes);
    h
}

/// Verifies `file` of `format` (already opened: header, footer and section bounds are
/// known good) and returns the CRC32 of the whole file.
pub(crate) fn verify(
    file: &[u8],
    format: ShardFormat,
    footer: &Footer,
    s: &Sections,
) -> Result<u32> {
    // Offsets below were checked against the file length by `Footer::sections`.
    let slice = |from: u64, to: u64, what: &str| {
        file.get(from as usize..to as usize)
            .ok_or_else(|| corrupt(format!("{what} [{from}, {to}) is out of bounds")))
    };
    let mut whole = crc32fast::Hasher::new();
    decode_header(file)?;
    whole.update(slice(0, HEADER_LEN as u64, "header")?);

    // The block table is small: check it first so a damaged table is reported as such.
    let table = slice(s.table_offset, s.footer_offset, "block table")?;
    let table_hasher = hasher_of(table);
    check_crc(
        "block table",
        s.table_offset,
        footer.table_crc,
        &table_hasher,
    )?;

    let data_end = footer.data_end;
    let index = IndexView {
        file,
        offset: s.index_offset as usize,
        nbuckets: footer.index_buckets,
        format,
    };
    let mut pos = DATA_START;
    let mut count = 0u64;
    let mut prev: Option<&[u8]> = None;
    let (entries, _) = table.as_chunks::<BLOCK_ENTRY_LEN>();
    for (i, entry) in entries.iter().enumerate() {
        let offset = le_u64(entry, 0);
        let len = u64::from(le_u32(entry, 8));
        let stored = le_u32(entry, 12);
        if offset != pos || len == 0 || len > data_end - pos {
            return Err(corrupt(format!(
                "block {i}: table entry (offset {offset}, length {len}) does not continue the \
                 data region at offset {pos} (data ends at {data_end})"
            )));
        }
        let end = pos + len;
        let block = slice(pos, end, "data block")?;
        let h = hasher_of(block);
        check_crc(format!("block {i}"), pos, stored, &h)?;
        whole.combine(&h);
        let mut p = pos as usize;
        while p < end as usize {
            let rec = record::read(file, p, end as usize, format)?;
            if prev.is_some_and(|prev| prev >= rec.key) {
                return Err(corrupt(format!(
                    "record at offset {p}: key not above the previous key"
                )));
            }
            prev = Some(rec.key);
            // The index must lead a lookup of this key to this record.
            let found = index.probe(index_hash(rec.key), |o, slot| {
                Ok((o == p as u64).then_some(slot))
            })?;
            let Some(slot) = found else {
                return Err(corrupt(format!(
                    "index does not lead to the record at offset {p}"
                )));
            };
            if format == ShardFormat::V2 {
                record::check_slot(slot, p as u64, &rec)?;
            }
            count += 1;
            p = rec.end;
        }
        pos = end;
    }
    if pos != data_end {
        return Err(corrupt(format!(
            "block table covers data up to offset {pos}, footer says {data_end}"
        )));
    }
    if count != footer.records {
        return Err(corrupt(format!(
            "found {count} records, footer says {}",
            footer.records
        )));
    }

    let region = slice(data_end, s.table_offset, "index")?;
    let h = hasher_of(region);
    check_crc("index", data_end, footer.index_crc, &h)?;
    whole.combine(&h);
    let pad = (s.index_offset - data_end) as usize;
    let (padding, buckets) = region.split_at(pad.min(region.len()));
    if padding.iter().any(|&b| b != 0) {
        return Err(corrupt(format!(
            "index padding at offset {data_end} is not zero"
        )));
    }
    let (slots, _) = buckets.as_chunks::<8>();
    let mut used = 0u64;
    for (b, bucket) in slots.chunks(SLOTS).enumerate() {
        let mut has_empty = false;
        let mut has_filter = false;
        for (i, slot) in bucket.iter().enumerate() {
            let v = u64::from_le_bytes(*slot);
            has_filter |= v & OVERFLOW_BIT != 0;
            let offset = v & format.offset_mask();
            if offset == 0 {
                has_empty = true;
                continue;
            }
            if offset < DATA_START || offset >= data_end {
                return Err(corrupt(format!(
                    "index slot at offset {} points at {offset}, outside the data region",
                    s.index_offset + (b * SLOTS + i) as u64 * 8
                )));
            }
            used += 1;
        }
        if has_empty && has_filter {
            return Err(corrupt(format!(
                "index bucket {b} has overflow bits set but is not full"
            )));
        }
    }
    // Every record was found through the index at its own offset; with as many
    // entries as records, the index describes exactly this data.
    if used != footer.records {
        return Err(corrupt(format!(
            "index at offset {} holds {used} entries for {} records",
            s.index_offset, footer.records
        )));
    }

    whole.combine(&table_hasher);
    Footer::decode(file)?;
    whole.update(slice(
        s.footer_offset,
        s.footer_offset + FOOTER_LEN as u64,
        "footer",
    )?);
    Ok(whole.finalize())
}
