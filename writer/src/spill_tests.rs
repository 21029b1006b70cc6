//! Spilling under budgets far below [`MIN_MEMORY_BUDGET`](crate::MIN_MEMORY_BUDGET):
//! enough runs per shard to need multi-level merges, from a few thousand records.
//! The public builders refuse such budgets, so these tests go through the crate's
//! own entry point with a lower floor.

use std::collections::BTreeMap;

use tusk_format::Shard;
use tusk_format::partition::shard_for;

use crate::build::build_from_iter_with_floor;
use crate::{BuiltVersion, OnDuplicate, WriteError, WriteOptions};

/// Deterministic pseudo-random records, with some repeated keys.
fn records(n: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = format!("key-{:06}", x % (n * 4 / 5)).into_bytes();
            let value = format!("value-{i}-{}", "x".repeat((x % 40) as usize)).into_bytes();
            (key, value)
        })
        .collect()
}

fn opts(temp: &std::path::Path) -> WriteOptions {
    let mut o = WriteOptions::new("test-domain");
    o.shards = 4;
    o.temp_dir = Some(temp.to_path_buf());
    o
}

/// Every record of a built version; each shard verifies, matches its manifest entry,
/// and holds only keys the partitioner sends to it.
fn contents(built: &BuiltVersion) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let m = &built.manifest;
    let mut all = BTreeMap::new();
    for entry in &m.shards {
        let bytes = std::fs::read(built.shard_dir().join(&entry.object)).unwrap();
        assert_eq!(bytes.len() as u64, entry.bytes, "size of {}", entry.object);
        assert_eq!(
            crc32fast::hash(&bytes),
            entry.crc32,
            "crc32 of {}",
            entry.object
        );
        let shard = Shard::open(bytes).unwrap();
        shard.verify().unwrap();
        for item in shard.iter() {
            let (k, v) = item.unwrap();
            assert_eq!(shard_for(k, m.shard_count), entry.index, "key {k:?}");
            assert!(
                all.insert(k.to_vec(), v.to_vec()).is_none(),
                "key {k:?} twice"
            );
        }
    }
    assert_eq!(all.len() as u64, m.records);
    all
}

#[test]
fn spilled_build_equals_in_memory_build() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records(30_000);
    for policy in [OnDuplicate::First, OnDuplicate::Last] {
        let mut o = opts(dir.path());
        o.shards = 5;
        o.on_duplicate = policy;
        let in_memory = build_from_iter_with_floor(recs.iter().cloned(), &o, None, 1).unwrap();
        assert_eq!(in_memory.stats.spilled_runs, 0);

        o.memory_budget = 4096;
        o.threads = Some(2);
        let spilled = build_from_iter_with_floor(recs.iter().cloned(), &o, None, 1).unwrap();
        assert!(
            spilled.stats.spilled_runs > 64 * 5,
            "expected enough runs to need a multi-level merge, got {}",
            spilled.stats.spilled_runs
        );

        let expected = contents(&in_memory);
        assert_eq!(contents(&spilled), expected);
        assert_eq!(
            spilled.stats.duplicates_dropped,
            in_memory.stats.duplicates_dropped
        );
        assert_eq!(
            spilled.stats.records + spilled.stats.duplicates_dropped,
            recs.len() as u64
        );

        // The kept value is the first (or last) occurrence in input order.
        let mut model = BTreeMap::new();
        for (k, v) in &recs {
            match policy {
                OnDuplicate::First => {
                    model.entry(k.clone()).or_insert_with(|| v.clone());
                }
                _ => {
                    model.insert(k.clone(), v.clone());
                }
            }
        }
        assert_eq!(expected, model);
    }
}

#[test]
fn spilled_duplicate_error_still_names_both_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs: Vec<(String, String)> = (0..3000)
        .map(|i| (format!("k{i}"), "v".to_string()))
        .collect();
    recs.push(("k10".into(), "again".into()));
    let mut o = opts(dir.path());
    o.memory_budget = 1024;
    let err = build_from_iter_with_floor(recs, &o, None, 1).unwrap_err();
    assert!(matches!(err, WriteError::Duplicate { .. }));
    assert_eq!(
        err.to_string(),
        "duplicate key \"k10\" at record 11 and record 3001"
    );
}
