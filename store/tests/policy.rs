//! Write gates and diffs on real shard files in a local store: `check_policy` catches
//! each rule (golden keys with values looked up in the candidate's shards, reading
//! only the shards that hold them), and `diff` merges versions of different shard
//! counts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tusk_format::partition::shard_for;
use tusk_format::{BuildOptions, ShardBuilder};
use tusk_store::conformance::{Hooks, Intercepted, Op};
use tusk_store::policy::{GoldenKey, Limits, Policy, Rule, Violation};
use tusk_store::{
    Catalog, DiffOptions, ErrorKind, LocalStore, Manifest, ObjectStore, ShardEntry,
    shard_object_name,
};

type Records = BTreeMap<Vec<u8>, Vec<u8>>;

fn local() -> (tempfile::TempDir, Arc<dyn ObjectStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path().join("store")).expect("local store");
    (dir, Arc::new(store))
}

/// `n` records `key-00000 -> value-0-<tag>` ...
fn records(n: usize, tag: &str) -> Records {
    (0..n)
        .map(|i| {
            (
                format!("key-{i:05}").into_bytes(),
                format!("value-{i}-{tag}").into_bytes(),
            )
        })
        .collect()
}

/// Builds real shard files of `records` in `shards` shards and publishes them.
async fn publish(
    catalog: &Catalog,
    domain: &str,
    version: &str,
    records: &Records,
    shards: u32,
) -> Manifest {
    let dir = tempfile::tempdir().expect("shard dir");
    let mut parts: Vec<Vec<(&[u8], &[u8])>> = vec![Vec::new(); shards as usize];
    for (k, v) in records {
        parts[shard_for(k, shards) as usize].push((k, v));
    }
    let mut entries = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let mut builder =
            ShardBuilder::new(Vec::new(), BuildOptions::default()).expect("shard builder");
        for (k, v) in part {
            builder.add(k, v).expect("add a record");
        }
        let (bytes, summary) = builder.finish().expect("finish the shard");
        let object = shard_object_name(i as u32);
        std::fs::write(dir.path().join(&object), &bytes).expect("write the shard");
        entries.push(ShardEntry {
            index: i as u32,
            object,
            bytes: summary.bytes,
            records: summary.records,
            crc32: summary.crc32,
            content_hash: Some(tusk_store::ContentHash(summary.content_hash)),
        });
    }
    let manifest = Manifest::new(domain, version, "2026-01-01T00:00:00Z", entries);
    catalog
        .publish(&manifest, dir.path())
        .await
        .expect("publish");
    manifest
}

fn golden(key: &str, value: Option<&str>) -> GoldenKey {
    GoldenKey {
        key: key.as_bytes().to_vec(),
        value: value.map(|v| v.as_bytes().to_vec()),
    }
}

#[tokio::test]
async fn default_policy_blocks_only_an_empty_version_and_allow_empty_waives_it() {
    let (_dir, store) = local();
    let catalog = Catalog::new(store);
    publish(&catalog, "d", "empty", &Records::new(), 2).await;
    publish(&catalog, "d", "one", &records(1, "a"), 2).await;

    let check = catalog
        .check_policy("d", "empty", None)
        .await
        .expect("check");
    assert_eq!(check.policy_seq, 0, "no policy set: the default applies");
    assert_eq!(
        check.violations,
        [Violation::MinRecords { records: 0, min: 1 }]
    );
    assert!(!check.is_ok());
    assert_eq!(check.blocking(false).len(), 1);
    assert!(check.blocking(true).is_empty(), "allow-empty waives it");
    assert_eq!(
        check.to_string(),
        "d version empty breaks the default policy: has 0 records, policy min-records 1"
    );

    let check = catalog
        .check_policy("d", "one", Some("empty"))
        .await
        .expect("check");
    assert!(check.is_ok(), "{check}");
    assert_eq!(check.current.as_deref(), Some("empty"));
}

#[tokio::test]
async fn allow_empty_does_not_waive_a_non_empty_shortfall() {
    let (_dir, store) = local();
    let catalog = Catalog::new(store);
    publish(&catalog, "d", "few", &records(3, "a"), 1).await;
    let policy = Policy {
        min_records: 10,
        ..Policy::default()
    };
    catalog
        .set_policy("d", &policy, 0, "ops", "at least ten")
        .await
        .expect("set");
    let check = catalog.check_policy("d", "few", None).await.expect("check");
    assert_eq!(check.policy_seq, 1);
    assert_eq!(
        check.violations,
        [Violation::MinRecords {
            records: 3,
            min: 10
        }]
    );
    assert_eq!(check.blocking(true).len(), 1, "3 records is not empty");
}

#[tokio::test]
async fn shrink_and_growth_are_measured_against_the_current_version_passed_in() {
    let (_dir, store) = local();
    let catalog = Catalog::new(store);
    publish(&catalog, "d", "v1000", &records(1000, "a"), 4).await;
    publish(&catalog, "d", "v800", &records(800, "a"), 4).await;
    publish(&catalog, "d", "v650", &records(650, "a"), 4).await;
    publish(&catalog, "d", "v4001", &records(4001, "a"), 4).await;
    catalog
        .activate("d", "v650", "ops", "the pointer does not matter")
        .await
        .expect("activate");
    let policy = Policy {
        min_records: 1,
        max_shrink: Limits {
            records: Some("20%".parse().unwrap()),
            bytes: None,
        },
        max_growth: Limits {
            records: Some("300%".parse().unwrap()),
            bytes: None,
        },
        golden: Vec::new(),
    };
    catalog
        .set_policy("d", &policy, 0, "ops", "size gates")
        .await
        .expect("set");

    let at_limit = catalog
        .check_policy("d", "v800", Some("v1000"))
        .await
        .expect("check");
    assert!(at_limit.is_ok(), "exactly 20% is allowed: {at_limit}");

    let shrink = catalog
        .check_policy("d", "v650", Some("v1000"))
        .await
        .expect("check");
    let shown: Vec<String> = shrink.violations.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        shown,
        ["shrinks records by 35.0% (1000 -> 650), policy max-shrink 20%"]
    );

    let growth = catalog
        .check_policy("d", "v4001", Some("v1000"))
        .await
        .expect("check");
    assert_eq!(
        growth
            .violations
            .iter()
            .map(Violation::rule)
            .collect::<Vec<_>>(),
        [Rule::MaxGrowth]
    );
    assert!(
        growth.violations[0]
            .to_string()
            .contains("(1000 -> 4001), policy max-growth 300%"),
        "{growth}"
    );

    let first = catalog
        .check_policy("d", "v650", None)
        .await
        .expect("check");
    assert!(first.is_ok(), "no current version: no size rule ({first})");

    let err = catalog
        .check_policy("d", "v650", Some("nope"))
        .await
        .expect_err("unknown current version");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = catalog
        .check_policy("d", "nope", None)
        .await
        .expect_err("unknown candidate");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

/// Records which shard objects are read (downloads are ranged reads).
#[derive(Debug, Default)]
struct ShardReads(Mutex<BTreeSet<String>>);

#[async_trait]
impl Hooks for ShardReads {
    async fn before(&self, op: Op<'_>) -> tusk_store::Result<()> {
        if let Op::GetRange { key, .. } | Op::Get { key } | Op::Head { key } = op
            && key.ends_with(".tsk")
        {
            self.0.lock().unwrap().insert(key.to_string());
        }
        Ok(())
    }
}

#[tokio::test]
async fn golden_keys_with_values_are_looked_up_in_only_the_shards_that_hold_them() {
    let (_dir, store) = local();
    let reads = Arc::new(ShardReads::default());
    let catalog = Catalog::new(Arc::new(Intercepted::new(store, reads.clone())));
    const SHARDS: u32 = 16;
    let mut data = records(200, "a");
    data.insert(b"empty-value".to_vec(), Vec::new());
    let manifest = publish(&catalog, "d", "v1", &data, SHARDS).await;
    let keys = [
        golden("key-00007", None),
        golden("key-00042", Some("value-42-a")),
        golden("key-00099", Some("stale expectation")),
        golden("not-there", None),
        golden("empty-value", Some("")),
    ];
    let policy = Policy {
        golden: keys.to_vec(),
        ..Policy::default()
    };
    catalog
        .set_policy("d", &policy, 0, "ops", "golden")
        .await
        .expect("set");
    reads.0.lock().unwrap().clear();

    let check = catalog.check_policy("d", "v1", None).await.expect("check");
    let shown: Vec<String> = check.violations.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        shown,
        [
            "golden key \"key-00099\" has value \"value-99-a\", policy golden value \"stale expectation\"",
            "golden key \"not-there\" is missing",
        ]
    );
    assert_eq!(
        check.violations[0],
        Violation::GoldenValue {
            key: b"key-00099".to_vec(),
            expected: b"stale expectation".to_vec(),
            found: b"value-99-a".to_vec(),
        }
    );

    let expected: BTreeSet<String> = keys
        .iter()
        .map(|g| {
            let index = shard_for(&g.key, SHARDS);
            format!("d/versions/v1/{}", manifest.shards[index as usize].object)
        })
        .collect();
    let read = reads.0.lock().unwrap().clone();
    assert_eq!(read, expected, "only the shards holding golden keys");
    assert!(read.len() < SHARDS as usize, "{read:?}");
}

#[tokio::test]
async fn diff_merges_versions_with_different_shard_counts() {
    let (_dir, store) = local();
    let catalog = Catalog::new(store);
    let old = records(500, "a");
    let mut new = old.clone();
    // Remove 0..50, change every 10th of 100..300, add 40 new keys.
    for i in 0..50 {
        new.remove(format!("key-{i:05}").as_bytes());
    }
    for i in (100..300).step_by(10) {
        new.insert(format!("key-{i:05}").into_bytes(), b"changed".to_vec());
    }
    for i in 0..40 {
        new.insert(format!("new-{i:03}").into_bytes(), Vec::new());
    }
    publish(&catalog, "d", "old", &old, 3).await;
    publish(&catalog, "d", "new", &new, 7).await;

    let options = DiffOptions {
        sample: 3,
        ..DiffOptions::default()
    };
    let report = catalog
        .diff("d", "old", "new", &options)
        .await
        .expect("diff");
    let c = &report.counts;
    assert_eq!(
        (c.added, c.removed, c.changed, c.unchanged),
        (40, 50, 20, 430)
    );
    let s = |v: &[Vec<u8>]| -> Vec<String> {
        v.iter()
            .map(|k| String::from_utf8(k.clone()).unwrap())
            .collect()
    };
    assert_eq!(s(&c.samples.added), ["new-000", "new-001", "new-002"]);
    assert_eq!(
        s(&c.samples.removed),
        ["key-00000", "key-00001", "key-00002"]
    );
    assert_eq!(
        s(&c.samples.changed),
        ["key-00100", "key-00110", "key-00120"]
    );

    let back = catalog
        .diff("d", "new", "old", &DiffOptions::default())
        .await
        .expect("diff back");
    let b = &back.counts;
    assert_eq!(
        (b.added, b.removed, b.changed, b.unchanged),
        (50, 40, 20, 430)
    );
    assert!(b.samples.added.is_empty(), "no samples asked for");

    let same = catalog
        .diff("d", "old", "old", &DiffOptions::default())
        .await
        .expect("diff same");
    assert_eq!(
        (same.counts.added, same.counts.removed, same.counts.changed),
        (0, 0, 0)
    );
    assert_eq!(same.counts.unchanged, 500);

    let err = catalog
        .diff("d", "old", "missing", &DiffOptions::default())
        .await
        .expect_err("missing version");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn diff_reports_progress_and_leaves_no_scratch_files() {
    let (_dir, store) = local();
    let catalog = Catalog::new(store);
    let a = publish(&catalog, "d", "a", &records(300, "a"), 2).await;
    let b = publish(&catalog, "d", "b", &records(200, "b"), 5).await;
    let scratch = tempfile::tempdir().expect("scratch");
    let seen = Arc::new(Mutex::new((0u64, 0u64)));
    let sink = seen.clone();
    let options = DiffOptions {
        sample: 0,
        temp_dir: Some(scratch.path().to_path_buf()),
        progress: Some(Arc::new(move |event| {
            let mut s = sink.lock().unwrap();
            match event {
                tusk_store::DiffProgress::Downloaded { bytes, .. } => s.0 += bytes,
                tusk_store::DiffProgress::Compared { records, .. } => s.1 += records,
                _ => {}
            }
        })),
    };
    let report = catalog.diff("d", "a", "b", &options).await.expect("diff");
    assert_eq!(report.counts.changed, 200);
    assert_eq!(report.counts.removed, 100);
    assert_eq!(*seen.lock().unwrap(), (a.bytes + b.bytes, 500));
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "scratch files removed: {left:?}");
}
