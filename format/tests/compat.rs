//! Compatibility fixtures: `tests/data/v1-small.tsk` was written by format v1 and
//! `tests/data/v2-small.tsk` by format v2; both must stay readable by every later
//! build, and today's writer must still produce exactly their bytes when asked for
//! their version.
//!
//! Regenerate (only when adding a new fixture, never to paper over a break):
//! `TUSK_REGENERATE_FIXTURES=1 cargo test -p tusk-format --test compat`.

mod common;

use std::path::PathBuf;

use tusk_format::{Shard, ShardFormat};

fn fixture_records() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut records = common::sample_records(50);
    records.push((vec![0xFF; 3], b"last \x00 binary".to_vec()));
    records.sort();
    records
}

/// Reads the committed fixture `name` (whole-file CRC32 `crc32`) written in
/// `format`, and checks today's writer still writes the same bytes.
fn check_fixture(format: ShardFormat, name: &str, crc32: u32) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let records = fixture_records();
    let (fresh, summary) = common::build(format, &records, 512);
    if std::env::var_os("TUSK_REGENERATE_FIXTURES").is_some() && !path.exists() {
        std::fs::write(&path, &fresh).expect("write fixture");
        eprintln!(
            "wrote {name}: {} bytes, crc32 {:#010x}",
            fresh.len(),
            summary.crc32
        );
    }
    let bytes = std::fs::read(&path).expect("fixture is checked in");
    assert_eq!(
        crc32fast::hash(&bytes),
        crc32,
        "{name}: fixture bytes changed"
    );

    let shard = Shard::open(&bytes[..]).expect("open fixture");
    assert_eq!(shard.verify_with_crc32().unwrap(), crc32);
    let info = shard.info();
    assert_eq!(info.format, format);
    assert_eq!(info.format_version, format.version());
    assert_eq!(info.records, records.len() as u64);
    for (k, v) in &records {
        assert_eq!(shard.get(k).unwrap(), Some(&v[..]), "{name}: key {k:?}");
    }
    assert_eq!(shard.get(b"k999").unwrap(), None);
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = shard
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(scanned, records);

    // Today's writer still produces exactly these bytes. If this fails on purpose,
    // the format changed: bump the version and add a new fixture beside this one.
    assert!(
        fresh == bytes,
        "writer output differs from the {name} fixture"
    );
}

#[test]
fn v1_fixture_reads_back() {
    check_fixture(ShardFormat::V1, "v1-small.tsk", 0xede673f9);
}

#[test]
fn v2_fixture_reads_back() {
    check_fixture(ShardFormat::V2, "v2-small.tsk", 0x60f52d5b);
}
