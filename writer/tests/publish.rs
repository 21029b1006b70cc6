//! Publishing a built version to a local-directory store.

mod common;

use common::*;
use tusk_store::Catalog;
use tusk_writer::{build_from_iter, publish};

#[tokio::test]
async fn publish_activates_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    std::fs::create_dir(&store_dir).unwrap();
    let catalog = Catalog::open(store_dir.to_str().unwrap()).unwrap();
    let o = opts(dir.path());

    let first = build_from_iter([("a", "1"), ("b", "2")], &o, None).unwrap();
    let current = publish(&catalog, &first, Some(&activate()), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.version, first.version());
    assert_eq!(current.actor, "test-writer");

    let versions = catalog.versions("test-domain").await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].manifest, first.manifest);
    assert!(versions[0].is_current);

    let second = build_from_iter([("a", "3")], &o, None).unwrap();
    assert_ne!(second.version(), first.version());
    assert!(
        publish(&catalog, &second, None, None)
            .await
            .unwrap()
            .is_none()
    );
    let versions = catalog.versions("test-domain").await.unwrap();
    assert_eq!(versions.len(), 2);
    let current = catalog.current("test-domain").await.unwrap().unwrap();
    assert_eq!(
        current.version,
        first.version(),
        "CURRENT unchanged without activate"
    );

    // The published shard files are byte-identical to the built ones.
    for entry in &second.manifest.shards {
        let stored = store_dir
            .join("test-domain/versions")
            .join(second.version())
            .join(&entry.object);
        assert_eq!(
            std::fs::read(stored).unwrap(),
            std::fs::read(second.shard_dir().join(&entry.object)).unwrap()
        );
    }

    // Publishing the same version twice is refused and says which version.
    let err = publish(&catalog, &second, None, None).await.unwrap_err();
    assert!(err.to_string().contains(second.version()), "{err}");
}

/// An earlier writer whose activation failed after its history record (a crash, a
/// full disk) left a record that never took effect. A later writer neither completes
/// it nor trips over it: its own version becomes current, and the failed one never
/// is.
#[tokio::test]
async fn a_failed_activation_never_takes_effect_later() {
    use tusk_store::{Action, HistoryRecord, PutMode};

    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let catalog = Catalog::open(store_dir.to_str().unwrap()).unwrap();
    let o = opts(dir.path());
    let first = build_from_iter([("a", "1")], &o, None).unwrap();
    publish(&catalog, &first, Some(&activate()), None)
        .await
        .unwrap();
    let failed = build_from_iter([("a", "bad")], &o, None).unwrap();
    publish(&catalog, &failed, None, None).await.unwrap();

    // The failed move: history record 2 exists, CURRENT still says seq 1.
    let half_done = HistoryRecord {
        seq: 2,
        base: Some(1),
        action: Action::Activate,
        version: failed.version().to_string(),
        previous: Some(first.version().to_string()),
        at: "2026-11-21T00:00:00Z".to_string(),
        actor: "crashed".to_string(),
        reason: "killed mid-move".to_string(),
        policy_override: None,
    };
    catalog
        .store()
        .put(
            &tusk_store::keys::history_key("test-domain", 2),
            serde_json::to_vec(&half_done).unwrap().into(),
            PutMode::Create,
        )
        .await
        .unwrap();

    let second = build_from_iter([("a", "2")], &o, None).unwrap();
    let current = publish(&catalog, &second, Some(&activate()), None)
        .await
        .expect("activation is not blocked by a failed move")
        .unwrap();
    assert_eq!(current.version, second.version());
    assert_eq!(current.seq, 3, "the next free seq");
    let lineage = catalog.lineage("test-domain").await.unwrap();
    let took_effect: Vec<&str> = lineage
        .chain()
        .unwrap()
        .iter()
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(
        took_effect,
        [first.version(), second.version()],
        "the failed activation never took effect"
    );
}

fn activate() -> tusk_store::MoveOptions {
    tusk_store::MoveOptions::new("test-writer", "test publish")
}

/// A publish with a progress callback reports the upload phase, every shard once
/// with its manifest size as it lands, then activation and the end, in that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reports_each_uploaded_shard() {
    use std::sync::{Arc, Mutex};
    use tusk_writer::{ProgressEvent, ProgressFn};

    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    std::fs::create_dir(&store_dir).unwrap();
    let catalog = Catalog::open(store_dir.to_str().unwrap()).unwrap();
    let mut o = opts(dir.path());
    o.shards = 6;
    let records: Vec<(String, String)> = (0..300)
        .map(|i| (format!("key-{i}"), format!("value-{i}")))
        .collect();
    let built = build_from_iter(records, &o, None).unwrap();

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let progress: ProgressFn = Arc::new(move |e| sink.lock().unwrap().push(e));
    publish(&catalog, &built, Some(&activate()), Some(progress))
        .await
        .unwrap()
        .unwrap();

    let events = events.lock().unwrap().clone();
    assert_eq!(events.first(), Some(&ProgressEvent::Phase("uploading")));
    assert_eq!(
        &events[events.len() - 2..],
        [
            ProgressEvent::Phase("activating"),
            ProgressEvent::Phase("done")
        ]
    );
    let mut uploaded: Vec<(u32, u64)> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::ShardUploaded { index, bytes } => Some((*index, *bytes)),
            _ => None,
        })
        .collect();
    uploaded.sort();
    let expected: Vec<(u32, u64)> = built
        .manifest
        .shards
        .iter()
        .map(|s| (s.index, s.bytes))
        .collect();
    assert_eq!(uploaded, expected);
    assert_eq!(events.len(), expected.len() + 3, "{events:?}");
}
