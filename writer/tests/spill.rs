//! Bounded memory: spilled runs give exactly the same shards as the in-memory path.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use tusk_format::partition::shard_for;
use tusk_writer::{OnDuplicate, ProgressEvent, WriteError, build_from_iter};

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

#[test]
fn spilled_build_equals_in_memory_build() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records(30_000);
    for policy in [OnDuplicate::First, OnDuplicate::Last] {
        let mut o = opts(dir.path());
        o.shards = 5;
        o.on_duplicate = policy;
        let in_memory = build_from_iter(recs.iter().cloned(), &o, None).unwrap();
        assert_eq!(in_memory.stats.spilled_runs, 0);

        o.memory_budget = 4096;
        o.threads = Some(2);
        let spilled = build_from_iter(recs.iter().cloned(), &o, None).unwrap();
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
        let mut model = std::collections::BTreeMap::new();
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
    let err = build_from_iter(recs, &o, None).unwrap_err();
    assert!(matches!(err, WriteError::Duplicate { .. }));
    assert_eq!(
        err.to_string(),
        "duplicate key \"k10\" at record 11 and record 3001"
    );
}

#[test]
fn iterator_round_trip_and_partitioning() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.shards = 7;
    o.writer_meta.insert("job".into(), "unit-test".into());
    let recs: Vec<(Vec<u8>, Vec<u8>)> = (0u32..2000)
        .map(|i| {
            (
                i.to_be_bytes().to_vec(),
                vec![(i % 251) as u8; (i % 17) as usize],
            )
        })
        .collect();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let progress: tusk_writer::ProgressFn = Arc::new(move |e| sink.lock().unwrap().push(e));
    let built = build_from_iter(recs.clone(), &o, Some(progress)).unwrap();

    let got = contents(&built);
    assert_eq!(got, recs.iter().cloned().collect());
    for (k, _) in &recs {
        let idx = shard_for(k, 7);
        let shard =
            tusk_format::Shard::open(std::fs::read(built.shard_path(idx)).unwrap()).unwrap();
        assert!(shard.get(k).unwrap().is_some());
    }
    let m = &built.manifest;
    m.validate("test").unwrap();
    assert_eq!(
        (m.domain.as_str(), m.shard_count, m.records),
        ("test-domain", 7, 2000)
    );
    assert_eq!(m.shard_format, tusk_format::SHARD_FORMAT_NAME);
    assert_eq!(m.writer["job"], "unit-test");
    assert_eq!(built.version(), m.version);
    tusk_store::layout::validate_version(built.version()).unwrap();
    assert_eq!(built.stats.shard_bytes, m.bytes);

    let events = events.lock().unwrap();
    let records_read: u64 = events
        .iter()
        .map(|e| {
            if let ProgressEvent::RecordsRead(n) = e {
                *n
            } else {
                0
            }
        })
        .sum();
    assert_eq!(records_read, 2000);
    let built_shards = events
        .iter()
        .filter(|e| matches!(e, ProgressEvent::ShardBuilt { .. }))
        .count();
    assert_eq!(built_shards, 7);
    assert_eq!(events.first(), Some(&ProgressEvent::Phase("reading")));
    assert_eq!(events.last(), Some(&ProgressEvent::Phase("done")));
}

#[test]
fn empty_input_gives_empty_shards() {
    let dir = tempfile::tempdir().unwrap();
    let built = build_from_iter(Vec::<(&[u8], &[u8])>::new(), &opts(dir.path()), None).unwrap();
    assert_eq!(built.manifest.shards.len(), 4);
    assert!(contents(&built).is_empty());
}
