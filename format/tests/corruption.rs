//! Damaged files: every single-byte flip and every truncation of a small shard, in
//! every format version.
//!
//! Invariant under test: the reader never panics and never returns another key's
//! value. A flip anywhere makes `open` or `verify` fail. On a flipped file, `get`
//! and `iter` return the true value, an error, or a miss, and a miss only for a flip
//! inside the index or, in version 2 (no record CRC), inside that key's own record.
//! A version 2 `get` may return the key's value with the flipped byte in it, and
//! only when that byte lies inside the value itself: the lengths and the place are
//! checked against the index slot, the value's bytes only by `verify`.

mod common;

use std::collections::BTreeMap;
use std::ops::Range;

use tusk_format::{Probe, Shard, ShardFormat, ShardInfo};

fn small_shard(format: ShardFormat) -> (Vec<u8>, common::Records) {
    let records = common::sample_records(40);
    // Small blocks so the file has several of them.
    let (bytes, _) = common::build(format, &records, 256);
    (bytes, records)
}

/// Where each record of a clean `file` lies, in file order.
fn record_spans(file: &[u8]) -> Vec<Range<usize>> {
    let shard = Shard::open(file).unwrap();
    let trailer = match shard.format() {
        ShardFormat::V1 => 4,
        ShardFormat::V2 => 0,
    };
    let mut at = 16;
    shard
        .iter()
        .map(|r| {
            let (_, v) = r.unwrap();
            let span = at..place_in(file, v).end + trailer;
            at = span.end;
            span
        })
        .collect()
}

/// Where `inner` lies in `outer`.
fn place_in(outer: &[u8], inner: &[u8]) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

/// `[start, end)` of the index region (alignment padding and buckets).
fn index_region(info: &ShardInfo) -> (usize, usize) {
    let data_end = 16 + info.data_bytes as usize;
    let index_start = data_end.next_multiple_of(64);
    (data_end, index_start + info.index_bytes as usize)
}

/// Checks the reads of `file`, which has a byte flipped at `pos` (`in_index`: in the
/// index region; `spans`: where each record lay before the flip).
fn check_reads(
    file: &[u8],
    pos: usize,
    records: &[(Vec<u8>, Vec<u8>)],
    in_index: bool,
    spans: &[Range<usize>],
) {
    let Ok(shard) = Shard::open(file) else {
        return;
    };
    let v2 = shard.format() == ShardFormat::V2;
    let truth: BTreeMap<&[u8], &[u8]> = records.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    // The batched lookup's hints touch the damaged file without panicking, and
    // its lookup answers as `get` does (checked below through `get`).
    for (k, _) in records {
        let probe = Probe::new(k);
        shard.prefetch_bucket(probe);
        shard.prefetch_records(probe);
        let same = match (shard.get_probed(k, probe), shard.get(k)) {
            (Ok(a), Ok(b)) => a == b,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        assert!(same, "flip at {pos}: get_probed and get differ for {k:?}");
    }
    for ((k, v), span) in records.iter().zip(spans) {
        let in_record = v2 && span.contains(&pos);
        match shard.get(k) {
            Ok(Some(got)) if got != &v[..] => {
                // Only version 2, and only the flipped byte of this very value.
                let at = place_in(file, got);
                assert!(
                    v2 && at.contains(&pos) && got.len() == v.len(),
                    "flip at {pos}: wrong value for {k:?}"
                );
                let differ = got.iter().zip(v).filter(|(a, b)| a != b).count();
                assert_eq!(
                    differ, 1,
                    "flip at {pos}: {k:?}'s value differs beyond the flip"
                );
            }
            Ok(Some(_)) => {}
            Ok(None) => assert!(
                in_index || in_record,
                "flip at {pos}: {k:?} missing, flip neither in the index nor in its record"
            ),
            Err(e) => assert!(e.is_corruption(), "flip at {pos}: {e}"),
        }
    }
    for absent in [&b"absent"[..], b"", b"k000-", b"zzz"] {
        if !truth.contains_key(absent)
            && let Ok(Some(v)) = shard.get(absent)
        {
            panic!("flip at {pos}: absent key {absent:?} returned {v:?}");
        }
    }
    // Version 1: every record the scan yields is true. Version 2: every record
    // before the flipped one is; from there on the scan may yield what the damaged
    // bytes say (it still never panics, and `verify` reports the damage).
    let mut expected = records.iter().zip(spans);
    for item in shard.iter() {
        match item {
            Ok((k, v)) => {
                let Some(((ek, ev), span)) = expected.next() else {
                    assert!(v2, "flip at {pos}: iter yielded an extra record");
                    break;
                };
                if v2 && span.end > pos {
                    break;
                }
                assert_eq!((k, v), (&ek[..], &ev[..]), "flip at {pos}: iter diverged");
            }
            Err(e) => assert!(e.is_corruption(), "flip at {pos}: {e}"),
        }
    }
}

#[test]
fn every_single_byte_flip_is_detected_and_harmless() {
    for format in ShardFormat::ALL {
        every_flip_in(format);
    }
}

fn every_flip_in(format: ShardFormat) {
    let (bytes, records) = small_shard(format);
    let spans = record_spans(&bytes);
    assert!(
        (500..8192).contains(&bytes.len()),
        "fixture size {}",
        bytes.len()
    );
    let info = Shard::open(&bytes[..]).unwrap().info();
    assert!(info.blocks > 2, "want several blocks, got {}", info.blocks);
    let (index_start, index_end) = index_region(&info);
    let mut file = bytes.clone();
    for pos in 0..bytes.len() {
        for mask in [0xFFu8, 0x01, 0x80] {
            file[pos] ^= mask;
            let outcome = Shard::open(&file[..]).and_then(|s| s.verify());
            assert!(
                outcome.is_err(),
                "flip {mask:#04x} at {pos} went undetected"
            );
            let in_index = (index_start..index_end).contains(&pos);
            check_reads(&file, pos, &records, in_index, &spans);
            file[pos] ^= mask;
        }
    }
    assert_eq!(file, bytes);
}

#[test]
fn every_truncation_fails_to_open() {
    for format in ShardFormat::ALL {
        truncations_in(format);
    }
}

fn truncations_in(format: ShardFormat) {
    let (bytes, _) = small_shard(format);
    for len in 0..bytes.len() {
        let err = Shard::open(&bytes[..len]).expect_err("truncated file opened");
        assert!(err.is_corruption(), "len {len}: {err}");
    }
    // Trailing garbage is rejected too.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Shard::open(&longer[..]).is_err());
}

#[test]
fn a_full_damaged_index_cannot_loop() {
    for format in ShardFormat::ALL {
        full_damaged_index_in(format);
    }
}

fn full_damaged_index_in(format: ShardFormat) {
    let (mut bytes, records) = small_shard(format);
    let info = Shard::open(&bytes[..]).unwrap().info();
    let (_, index_end) = index_region(&info);
    let index_start = index_end - info.index_bytes as usize;
    // Every slot non-empty, pointing at the first record with tag 0xFFFF.
    for slot in bytes[index_start..index_end].chunks_exact_mut(8) {
        slot.copy_from_slice(&((0xFFFFu64 << 48) | 16).to_le_bytes());
    }
    let shard = Shard::open(&bytes[..]).expect("the index CRC is only checked by verify");
    assert!(shard.verify().is_err());
    for (k, v) in &records {
        if let Ok(Some(got)) = shard.get(k) {
            assert_eq!(got, &v[..]);
        }
    }
    assert!(matches!(shard.get(b"not there"), Ok(None) | Err(_)));
}

#[test]
fn wrong_magic_and_version_have_clear_errors() {
    let (bytes, _) = small_shard(ShardFormat::default());
    let mut f = bytes.clone();
    f[0] = b'X';
    assert!(matches!(
        Shard::open(&f[..]),
        Err(tusk_format::FormatError::BadMagic)
    ));
    let mut f = bytes.clone();
    f[8] = 3;
    let err = Shard::open(&f[..]).unwrap_err();
    assert!(
        matches!(
            err,
            tusk_format::FormatError::UnsupportedVersion { newest: 2, got: 3 }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade tusk"), "{err}");
    assert!(Shard::open(&b"not a shard at all, clearly not"[..]).is_err());
}

/// Recomputes the index CRC and the footer CRC after the index was edited, as a buggy
/// writer with consistent checksums would.
fn reseal_index(bytes: &mut [u8], info: &ShardInfo) {
    let (start, end) = index_region(info);
    let crc = crc32fast::hash(&bytes[start..end]);
    let footer = bytes.len() - 64;
    bytes[footer + 32..footer + 36].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32fast::hash(&bytes[footer..footer + 52]);
    bytes[footer + 52..footer + 56].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn verify_rejects_an_index_that_hides_records() {
    for format in ShardFormat::ALL {
        index_that_hides_records_in(format);
    }
}

fn index_that_hides_records_in(format: ShardFormat) {
    // Enough keys that some overflow their home bucket.
    let records: common::Records = (0..3000u32)
        .map(|i| (format!("key-{i:05}").into_bytes(), vec![i as u8; 3]))
        .collect();
    let (mut bytes, _) = common::build(format, &records, 4096);
    let info = Shard::open(&bytes[..]).unwrap().info();
    let (_, index_end) = index_region(&info);
    let index_start = index_end - info.index_bytes as usize;
    // Clear every overflow filter bit (bit 47): overflowed keys become unreachable,
    // while every checksum, the slot count and the slot contents stay consistent.
    for slot in bytes[index_start..index_end].chunks_exact_mut(8) {
        let v = u64::from_le_bytes(slot.try_into().unwrap()) & !(1u64 << 47);
        slot.copy_from_slice(&v.to_le_bytes());
    }
    reseal_index(&mut bytes, &info);
    let shard = Shard::open(&bytes[..]).unwrap();
    let hidden = records
        .iter()
        .filter(|(k, _)| shard.get(k).unwrap().is_none())
        .count();
    assert!(hidden > 0, "the edit must hide some records");
    let err = shard
        .verify()
        .expect_err("verify must notice unreachable records");
    assert!(err.to_string().contains("index does not lead"), "{err}");
}

/// Version 2 has no record CRC: its index slots' record checks are what keep a
/// damaged length from cutting a value short or running it into the next record.
/// A buggy writer (or a stray write) with every CRC resealed is still caught by
/// `get` and `verify`.
#[test]
fn a_v2_length_that_disagrees_with_its_slot_is_an_error() {
    let records: common::Records = vec![
        (b"alpha".to_vec(), b"0123456789".to_vec()),
        (b"beta".to_vec(), b"abcdefghij".to_vec()),
    ];
    let (mut bytes, _) = common::build(ShardFormat::V2, &records, 64 * 1024);
    // alpha's record: key_len 5 at 16, value_len 10 at 17. Make the value 11 bytes
    // long (running into beta's record), and reseal the block CRC.
    assert_eq!((bytes[16], bytes[17]), (5, 10));
    bytes[17] = 11;
    let info = Shard::open(&bytes[..]).unwrap().info();
    let table = 16 + info.data_bytes as usize;
    let table = table.next_multiple_of(64) + info.index_bytes as usize;
    let data_crc = crc32fast::hash(&bytes[16..16 + info.data_bytes as usize]);
    bytes[table + 12..table + 16].copy_from_slice(&data_crc.to_le_bytes());
    let footer = bytes.len() - 64;
    let table_crc = crc32fast::hash(&bytes[table..footer]);
    bytes[footer + 36..footer + 40].copy_from_slice(&table_crc.to_le_bytes());
    let footer_crc = crc32fast::hash(&bytes[footer..footer + 52]);
    bytes[footer + 52..footer + 56].copy_from_slice(&footer_crc.to_le_bytes());

    let shard = Shard::open(&bytes[..]).unwrap();
    let err = shard
        .get(b"alpha")
        .expect_err("a length the slot disagrees with");
    assert!(err.to_string().contains("index slot's check"), "{err}");
    assert!(shard.verify().is_err());
    // It is the record check that refuses it (every CRC was resealed).
    let err = shard.verify().unwrap_err().to_string();
    assert!(
        err.contains("record at offset 16") && err.contains("index slot's check"),
        "{err}"
    );
}
