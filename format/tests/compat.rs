//! Compatibility fixture: `tests/data/v1-small.tsk` was written by format v1 and must
//! stay readable by every later build.
//!
//! Regenerate (only when adding a new fixture, never to paper over a break):
//! `TUSK_REGENERATE_FIXTURES=1 cargo test -p tusk-format --test compat`.

mod common;

use std::path::PathBuf;

use tusk_format::Shard;

const FIXTURE: &str = "tests/data/v1-small.tsk";
/// Whole-file CRC32 of the committed fixture.
const FIXTURE_CRC32: u32 = 0xede673f9;

fn fixture_records() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut records = common::sample_records(50);
    records.push((vec![0xFF; 3], b"last \x00 binary".to_vec()));
    records.sort();
    records
}

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

#[test]
fn v1_fixture_reads_back() {
    let records = fixture_records();
    let (fresh, summary) = common::build(&records, 512);
    if std::env::var_os("TUSK_REGENERATE_FIXTURES").is_some() {
        std::fs::write(fixture_path(), &fresh).expect("write fixture");
        eprintln!(
            "wrote {FIXTURE}: {} bytes, crc32 {:#010x}",
            fresh.len(),
            summary.crc32
        );
    }
    let bytes = std::fs::read(fixture_path()).expect("fixture is checked in");
    assert_eq!(
        crc32fast::hash(&bytes),
        FIXTURE_CRC32,
        "fixture bytes changed"
    );

    let shard = Shard::open(&bytes[..]).expect("open v1 fixture");
    assert_eq!(shard.verify_with_crc32().unwrap(), FIXTURE_CRC32);
    let info = shard.info();
    assert_eq!(info.format_version, 1);
    assert_eq!(info.records, records.len() as u64);
    for (k, v) in &records {
        assert_eq!(shard.get(k).unwrap(), Some(&v[..]), "key {k:?}");
    }
    assert_eq!(shard.get(b"k999").unwrap(), None);
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = shard
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(scanned, records);

    // Today's writer still produces exactly the v1 bytes. If this fails on purpose,
    // the format changed: bump the version and add a new fixture beside this one.
    assert!(fresh == bytes, "writer output differs from the v1 fixture");
}
