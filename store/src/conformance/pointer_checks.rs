//! Checks of moving CURRENT: activate, rollback, history, polling, races.

use std::sync::Arc;

use bytes::Bytes;

use super::barrier::ReadBarrier;
use super::intercept::Intercepted;
use super::{expect_kind, fresh, ok, publish_small};
use crate::layout::{current_key, history_key};
use crate::{Action, Catalog, CurrentPoll, ErrorKind, HistoryRecord, ObjectStore, PutMode};

/// activate, activate, rollback, rollback, rollback to: CURRENT, seq numbers,
/// `previous` and the history records.
pub async fn check_activate_rollback_history(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("pointer");
    for v in ["v1", "v2", "v3"] {
        publish_small(&catalog, &domain, v, 1).await;
    }
    assert!(ok(s, "current", catalog.current(&domain).await).is_none());
    assert!(ok(s, "history", catalog.history(&domain).await).is_empty());

    let c1 = ok(
        s,
        "activate v1",
        catalog.activate(&domain, "v1", "alice", "first").await,
    );
    assert_eq!(
        (c1.version.as_str(), c1.seq),
        ("v1", 1),
        "[{}] first activation",
        s.url()
    );
    let c2 = ok(
        s,
        "activate v2",
        catalog.activate(&domain, "v2", "bob", "second").await,
    );
    assert_eq!((c2.version.as_str(), c2.seq), ("v2", 2));
    assert_eq!(
        ok(s, "current", catalog.current(&domain).await),
        Some(c2.clone()),
        "[{}] CURRENT",
        s.url()
    );
    let versions = ok(s, "versions", catalog.versions(&domain).await);
    let current: Vec<&str> = versions
        .iter()
        .filter(|v| v.is_current)
        .map(|v| v.manifest.version.as_str())
        .collect();
    assert_eq!(current, ["v2"], "[{}] is_current", s.url());

    let r1 = ok(
        s,
        "rollback",
        catalog.rollback(&domain, None, "carol", "bad data").await,
    );
    assert_eq!(
        (r1.version.as_str(), r1.seq),
        ("v1", 3),
        "[{}] rollback goes to the previous version",
        s.url()
    );
    let r2 = ok(
        s,
        "rollback again",
        catalog.rollback(&domain, None, "carol", "undo").await,
    );
    assert_eq!(
        (r2.version.as_str(), r2.seq),
        ("v2", 4),
        "[{}] a second rollback undoes the first",
        s.url()
    );
    let r3 = ok(
        s,
        "rollback to v3",
        catalog.rollback(&domain, Some("v3"), "dave", "pick").await,
    );
    assert_eq!((r3.version.as_str(), r3.seq), ("v3", 5));
    expect_kind(
        s,
        "rollback to an unknown version",
        catalog.rollback(&domain, Some("v9"), "x", "y").await,
        ErrorKind::NotFound,
    );
    expect_kind(
        s,
        "activate an unknown version",
        catalog.activate(&domain, "v9", "x", "y").await,
        ErrorKind::NotFound,
    );

    let history = ok(s, "history", catalog.history(&domain).await);
    let summary: Vec<(u64, Action, &str, Option<&str>, &str)> = history
        .iter()
        .map(|h| {
            (
                h.seq,
                h.action,
                h.version.as_str(),
                h.previous.as_deref(),
                h.actor.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, Action::Activate, "v1", None, "alice"),
            (2, Action::Activate, "v2", Some("v1"), "bob"),
            (3, Action::Rollback, "v1", Some("v2"), "carol"),
            (4, Action::Rollback, "v2", Some("v1"), "carol"),
            (5, Action::Rollback, "v3", Some("v2"), "dave"),
        ],
        "[{}] history",
        s.url()
    );
    assert_eq!(history[2].reason, "bad data");
    let now = ok(s, "current", catalog.current(&domain).await).expect("CURRENT exists");
    assert_eq!(
        (now.seq, now.updated_at.as_str()),
        (5, history[4].at.as_str()),
        "[{}] CURRENT matches the last record",
        s.url()
    );

    // Activating the current version again is recorded.
    let again = ok(
        s,
        "activate current again",
        catalog.activate(&domain, "v3", "erin", "re-announce").await,
    );
    assert_eq!((again.version.as_str(), again.seq), ("v3", 6));
}

/// poll_current: unchanged while CURRENT is the same, changed after a move.
pub async fn check_poll_current(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("poll");
    match ok(s, "poll", catalog.poll_current(&domain, None).await) {
        CurrentPoll::Changed {
            current: None,
            etag: None,
        } => {}
        other => panic!("[{}] poll of a domain without CURRENT: {other:?}", s.url()),
    }
    publish_small(&catalog, &domain, "v1", 1).await;
    publish_small(&catalog, &domain, "v2", 1).await;
    ok(
        s,
        "activate",
        catalog.activate(&domain, "v1", "t", "r").await,
    );
    let etag = match ok(s, "poll", catalog.poll_current(&domain, None).await) {
        CurrentPoll::Changed {
            current: Some(c),
            etag: Some(etag),
        } => {
            assert_eq!(c.version, "v1");
            etag
        }
        other => panic!("[{}] first poll after activation: {other:?}", s.url()),
    };
    assert!(
        matches!(
            ok(s, "poll", catalog.poll_current(&domain, Some(&etag)).await),
            CurrentPoll::Unchanged
        ),
        "[{}] unchanged CURRENT polled as changed",
        s.url()
    );
    ok(
        s,
        "activate",
        catalog.activate(&domain, "v2", "t", "r").await,
    );
    match ok(s, "poll", catalog.poll_current(&domain, Some(&etag)).await) {
        CurrentPoll::Changed {
            current: Some(c),
            etag: Some(new),
        } => {
            assert_eq!((c.version.as_str(), c.seq), ("v2", 2));
            assert_ne!(new, etag);
        }
        other => panic!("[{}] poll after a move: {other:?}", s.url()),
    }
}

/// Eight operators that all read the same CURRENT move it at once: exactly one
/// wins, the others get Conflict, and CURRENT matches the winner's history record.
pub async fn check_concurrent_activate(store: Arc<dyn ObjectStore>) {
    const OPERATORS: usize = 8;
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("race");
    for i in 0..=OPERATORS {
        publish_small(&catalog, &domain, &format!("v{i}"), 1).await;
    }
    ok(
        s,
        "activate v0",
        catalog.activate(&domain, "v0", "setup", "base").await,
    );

    // Every operator's read of CURRENT completes before any of them writes.
    let barrier = Arc::new(ReadBarrier::new(current_key(&domain), OPERATORS));
    let racing = Catalog::new(Arc::new(Intercepted::new(store.clone(), barrier)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=OPERATORS {
        let (catalog, domain) = (racing.clone(), domain.clone());
        tasks.spawn(async move {
            let version = format!("v{i}");
            let result = catalog
                .activate(&domain, &version, &format!("op{i}"), "race")
                .await;
            (version, result)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (version, result) = joined.expect("operator task");
        match result {
            Ok(current) => winners.push((version, current)),
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    ErrorKind::Conflict,
                    "[{}] loser {version}: {e}",
                    s.url()
                );
                assert!(
                    e.to_string().contains("re-read and retry"),
                    "[{}] conflict message: {e}",
                    s.url()
                );
            }
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "[{}] exactly one concurrent move must win: {winners:?}",
        s.url()
    );
    let (version, returned) = &winners[0];
    let current = ok(s, "current", catalog.current(&domain).await).expect("CURRENT exists");
    assert_eq!(&current, returned, "[{}] CURRENT = the winner's", s.url());
    assert_eq!(
        (current.version.as_str(), current.seq),
        (version.as_str(), 2)
    );
    let history = ok(s, "history", catalog.history(&domain).await);
    assert_eq!(
        history.len(),
        2,
        "[{}] one record per successful move: {history:?}",
        s.url()
    );
    assert_eq!(
        history[1].version,
        *version,
        "[{}] record 2 is the winner's",
        s.url()
    );
    assert_eq!(history[1].previous.as_deref(), Some("v0"));

    // Nothing is left stuck: the next move works.
    let next = ok(
        s,
        "activate after the race",
        catalog.activate(&domain, "v0", "after", "retry").await,
    );
    assert_eq!(next.seq, 3);
}

/// Rollback with nothing before the current version fails and records nothing.
pub async fn check_rollback_nothing_before(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("nothing-before");
    publish_small(&catalog, &domain, "v1", 1).await;
    let msg = expect_kind(
        s,
        "rollback without CURRENT",
        catalog.rollback(&domain, None, "t", "r").await,
        ErrorKind::Invalid,
    );
    assert!(
        msg.contains("nothing to roll back to"),
        "[{}] {msg}",
        s.url()
    );
    ok(
        s,
        "activate",
        catalog.activate(&domain, "v1", "t", "r").await,
    );
    let msg = expect_kind(
        s,
        "rollback of the first version",
        catalog.rollback(&domain, None, "t", "r").await,
        ErrorKind::Invalid,
    );
    assert!(
        msg.contains("nothing to roll back to"),
        "[{}] {msg}",
        s.url()
    );
    assert_eq!(
        ok(s, "history", catalog.history(&domain).await).len(),
        1,
        "[{}] a failed rollback recorded",
        s.url()
    );
    assert_eq!(
        ok(s, "current", catalog.current(&domain).await).map(|c| c.seq),
        Some(1)
    );
}

/// An operator that died between the history record and CURRENT does not block
/// the domain: the next move completes it (answering Conflict), the one after works.
pub async fn check_interrupted_move_is_repaired(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("interrupted");
    for v in ["v1", "v2", "v3"] {
        publish_small(&catalog, &domain, v, 1).await;
    }
    ok(
        s,
        "activate v1",
        catalog.activate(&domain, "v1", "t", "r").await,
    );
    let orphan = HistoryRecord {
        seq: 2,
        action: Action::Activate,
        version: "v2".to_string(),
        previous: Some("v1".to_string()),
        at: "2026-01-01T00:00:00Z".to_string(),
        actor: "crashed".to_string(),
        reason: "died before writing CURRENT".to_string(),
    };
    let body = Bytes::from(serde_json::to_vec(&orphan).expect("serialize"));
    ok(
        s,
        "put orphan record",
        s.put(&history_key(&domain, 2), body, PutMode::Create).await,
    );

    expect_kind(
        s,
        "activate over a half-done move",
        catalog.activate(&domain, "v3", "t", "r").await,
        ErrorKind::Conflict,
    );
    let current = ok(s, "current", catalog.current(&domain).await).expect("CURRENT exists");
    assert_eq!(
        (
            current.version.as_str(),
            current.seq,
            current.actor.as_str()
        ),
        ("v2", 2, "crashed"),
        "[{}] half-done move completed",
        s.url()
    );
    let next = ok(
        s,
        "activate after repair",
        catalog.activate(&domain, "v3", "t", "r").await,
    );
    assert_eq!((next.version.as_str(), next.seq), ("v3", 3));
    assert_eq!(
        ok(s, "history", catalog.history(&domain).await)[2]
            .previous
            .as_deref(),
        Some("v2")
    );
}
