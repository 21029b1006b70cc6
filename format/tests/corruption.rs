//! Damaged files: every single-byte flip and every truncation of a small shard.
//!
//! Invariant under test: the reader never panics and never returns wrong data. A flip
//! anywhere makes `open` or `verify` fail; `get` and `iter` on a flipped file return
//! the true value, an error, or (only for a flip inside the index) a miss.

mod common;

use std::collections::BTreeMap;

use tusk_format::{Probe, Shard, ShardInfo};

fn small_shard() -> (Vec<u8>, common::Records) {
    let records = common::sample_records(40);
    // Small blocks so the file has several of them.
    let (bytes, _) = common::build(&records, 256);
    (bytes, records)
}

/// `[start, end)` of the index region (alignment padding and buckets).
fn index_region(info: &ShardInfo) -> (usize, usize) {
    let data_end = 16 + info.data_bytes as usize;
    let index_start = data_end.next_multiple_of(64);
    (data_end, index_start + info.index_bytes as usize)
}

fn check_reads(file: &[u8], pos: usize, records: &[(Vec<u8>, Vec<u8>)], in_index: bool) {
    let Ok(shard) = Shard::open(file) else {
        return;
    };
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
    for (k, v) in records {
        match shard.get(k) {
            Ok(Some(got)) => assert_eq!(got, &v[..], "flip at {pos}: wrong value for {k:?}"),
            Ok(None) => assert!(in_index, "flip at {pos}: {k:?} missing, flip not in index"),
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
    let mut expected = records.iter();
    for item in shard.iter() {
        match item {
            Ok((k, v)) => {
                let (ek, ev) = expected.next().expect("iter yields no extra record");
                assert_eq!((k, v), (&ek[..], &ev[..]), "flip at {pos}: iter diverged");
            }
            Err(e) => assert!(e.is_corruption(), "flip at {pos}: {e}"),
        }
    }
}

#[test]
fn every_single_byte_flip_is_detected_and_harmless() {
    let (bytes, records) = small_shard();
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
            check_reads(&file, pos, &records, in_index);
            file[pos] ^= mask;
        }
    }
    assert_eq!(file, bytes);
}

#[test]
fn every_truncation_fails_to_open() {
    let (bytes, _) = small_shard();
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
    let (mut bytes, records) = small_shard();
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
    let (bytes, _) = small_shard();
    let mut f = bytes.clone();
    f[0] = b'X';
    assert!(matches!(
        Shard::open(&f[..]),
        Err(tusk_format::FormatError::BadMagic)
    ));
    let mut f = bytes.clone();
    f[8] = 2;
    let err = Shard::open(&f[..]).unwrap_err();
    assert!(
        matches!(
            err,
            tusk_format::FormatError::UnsupportedVersion {
                expected: 1,
                got: 2
            }
        ),
        "{err:?}"
    );
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
    // Enough keys that some overflow their home bucket.
    let records: common::Records = (0..3000u32)
        .map(|i| (format!("key-{i:05}").into_bytes(), vec![i as u8; 3]))
        .collect();
    let (mut bytes, _) = common::build(&records, 4096);
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
