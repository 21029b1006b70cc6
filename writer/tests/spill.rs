//! Bounded memory and limits: spilled runs give exactly the same shards as the
//! in-memory path; shard counts and memory budgets out of range are refused up front.
//! (Spills deep enough for multi-level merges are unit tests: `src/spill_tests.rs`.)

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use tusk_format::partition::shard_for;
use tusk_writer::{
    MAX_SHARDS, MIN_MEMORY_BUDGET, OnDuplicate, ProgressEvent, WriteError, build_from_iter,
};

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
fn a_build_at_the_memory_floor_spills_and_equals_the_in_memory_build() {
    let dir = tempfile::tempdir().unwrap();
    // Each record is charged ~30 bytes plus 64: 150,000 records are ~3 floors.
    let recs = records(150_000);
    let mut o = opts(dir.path());
    o.on_duplicate = OnDuplicate::Last;
    let in_memory = build_from_iter(recs.iter().cloned(), &o, None).unwrap();
    assert_eq!(in_memory.stats.spilled_runs, 0);
    o.memory_budget = MIN_MEMORY_BUDGET;
    let spilled = build_from_iter(recs.iter().cloned(), &o, None).unwrap();
    assert!(
        spilled.stats.spilled_runs >= 4,
        "expected spills at the floor, got {} runs",
        spilled.stats.spilled_runs
    );
    assert_eq!(contents(&spilled), contents(&in_memory));
}

#[test]
fn a_memory_budget_below_the_floor_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    for budget in [0, 1, MIN_MEMORY_BUDGET - 1] {
        let mut o = opts(dir.path());
        o.memory_budget = budget;
        let untouched = std::iter::from_fn(|| -> Option<(&[u8], &[u8])> {
            panic!("input read before the options were checked")
        });
        let err = build_from_iter(untouched, &o, None).unwrap_err();
        assert!(
            matches!(err, WriteError::OutOfRange { option: "memory budget", value, .. } if value == budget),
            "{err}"
        );
        assert!(
            err.to_string().contains("at least 4 MiB = 4194304 bytes"),
            "{err}"
        );
    }
    assert!(is_empty_dir(dir.path()));
}

#[test]
fn a_shard_count_out_of_range_is_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    for shards in [0, MAX_SHARDS + 1, 100_000, u32::MAX] {
        let mut o = opts(dir.path());
        o.shards = shards;
        let err = build_from_iter([("k", "v")], &o, None).unwrap_err();
        assert!(
            matches!(err, WriteError::OutOfRange { option: "shards", value, .. } if value == u64::from(shards)),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("1..=65536") && text.contains("memory-mapped file"),
            "{text}"
        );
    }
    assert!(is_empty_dir(dir.path()));
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
    assert_eq!(m.shard_format, tusk_format::ShardFormat::default().name());
    assert_eq!(m.writer["job"], "unit-test");
    assert_eq!(built.version(), m.version);
    tusk_store::keys::validate_version(built.version()).unwrap();
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
