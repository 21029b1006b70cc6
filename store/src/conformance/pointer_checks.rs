//! Checks of moving CURRENT: activate, rollback, history, polling, races.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use super::barrier::ReadBarrier;
use super::intercept::{Hooks, Intercepted, Op, injected};
use super::{expect_kind, fresh, ok, publish_small};
use crate::keys::{current_key, history_key};
use crate::{
    Action, Catalog, Current, CurrentPoll, ErrorKind, HistoryRecord, MoveOptions, ObjectStore,
    PutMode,
};

/// activate ×3, rollback ×2 (walking back, marking), a rollback with nothing left,
/// activate of the current version (a no-op), rollback --to: CURRENT, seq numbers,
/// marks and the history records.
pub async fn check_activate_rollback_history(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = domain_with(&catalog, "pointer", &["v1", "v2", "v3"]).await;
    assert!(ok(s, "current", catalog.current(&domain).await).is_none());
    assert!(ok(s, "history", catalog.history(&domain).await).is_empty());

    for (seq, (v, actor)) in [("v1", "alice"), ("v2", "bob"), ("v3", "bob")]
        .into_iter()
        .enumerate()
    {
        let moved = ok(
            s,
            "activate",
            catalog
                .activate_with(&domain, v, &MoveOptions::new(actor, "publish"))
                .await,
        );
        assert_eq!(
            (
                moved.current.version.as_str(),
                moved.current.seq,
                moved.moved
            ),
            (v, seq as u64 + 1, true),
            "[{}] activation of {v}",
            s.url()
        );
    }
    assert_eq!(
        ok(s, "current", catalog.current(&domain).await).map(|c| c.version),
        Some("v3".to_string()),
        "[{}] CURRENT",
        s.url()
    );

    // Rollbacks walk back and mark what they leave.
    let r1 = ok(
        s,
        "rollback",
        catalog
            .rollback_with(&domain, None, &MoveOptions::new("carol", "bad data"))
            .await,
    );
    assert_eq!(
        (
            r1.from.as_deref(),
            r1.current.version.as_str(),
            r1.current.seq
        ),
        (Some("v3"), "v2", 4),
        "[{}] rollback goes to the newest older version",
        s.url()
    );
    let r2 = ok(
        s,
        "rollback again",
        catalog.rollback(&domain, None, "carol", "still bad").await,
    );
    assert_eq!(
        (r2.version.as_str(), r2.seq),
        ("v1", 5),
        "[{}] a second rollback walks further back, never forward",
        s.url()
    );
    let marks: Vec<(String, bool, bool)> = ok(s, "versions", catalog.versions(&domain).await)
        .into_iter()
        .map(|v| (v.manifest.version, v.is_current, v.rolled_back))
        .collect();
    assert_eq!(
        marks,
        [
            ("v1".to_string(), true, false),
            ("v2".to_string(), false, true),
            ("v3".to_string(), false, true),
        ],
        "[{}] versions show the current one and the rolled-back ones",
        s.url()
    );
    let msg = expect_kind(
        s,
        "a third rollback",
        catalog.rollback(&domain, None, "carol", "x").await,
        ErrorKind::Invalid,
    );
    assert!(
        msg.contains("nothing to roll back to"),
        "[{}] {msg}",
        s.url()
    );

    // Activating the current version changes nothing.
    let same = ok(
        s,
        "activate current again",
        catalog
            .activate_with(&domain, "v1", &MoveOptions::new("erin", "again"))
            .await,
    );
    assert!(!same.moved, "[{}] re-activation moved CURRENT", s.url());
    assert_eq!(same.current.seq, 5);

    // An explicit choice: rollback --to, then an activation clears a mark.
    let to = ok(
        s,
        "rollback to v2",
        catalog.rollback(&domain, Some("v2"), "dave", "pick").await,
    );
    assert_eq!((to.version.as_str(), to.seq), ("v2", 6));
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
    ok(
        s,
        "activate v3",
        catalog.activate(&domain, "v3", "erin", "fixed").await,
    );
    let rolled_back: Vec<String> = ok(s, "versions", catalog.versions(&domain).await)
        .into_iter()
        .filter(|v| v.rolled_back)
        .map(|v| v.manifest.version)
        .collect();
    assert_eq!(
        rolled_back,
        ["v1"],
        "[{}] marks after re-activation",
        s.url()
    );

    let history = ok(s, "history", catalog.history(&domain).await);
    type Row<'a> = (u64, Option<u64>, Action, &'a str, Option<&'a str>, &'a str);
    let summary: Vec<Row> = history
        .iter()
        .map(|h| {
            (
                h.seq,
                h.base,
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
            (1, Some(0), Action::Activate, "v1", None, "alice"),
            (2, Some(1), Action::Activate, "v2", Some("v1"), "bob"),
            (3, Some(2), Action::Activate, "v3", Some("v2"), "bob"),
            (4, Some(3), Action::Rollback, "v2", Some("v3"), "carol"),
            (5, Some(4), Action::Rollback, "v1", Some("v2"), "carol"),
            (6, Some(5), Action::Rollback, "v2", Some("v1"), "dave"),
            (7, Some(6), Action::Activate, "v3", Some("v2"), "erin"),
        ],
        "[{}] history",
        s.url()
    );
    assert_eq!(history[3].reason, "bad data");
    let now = ok(s, "current", catalog.current(&domain).await).expect("CURRENT exists");
    assert_eq!(
        (now.seq, now.updated_at.as_str()),
        (7, history[6].at.as_str()),
        "[{}] CURRENT matches the last record",
        s.url()
    );
}

/// A fresh domain named after `name` with `versions` published (one shard each).
async fn domain_with(catalog: &Catalog, name: &str, versions: &[&str]) -> String {
    let domain = fresh(name);
    for v in versions {
        publish_small(catalog, &domain, v, 1).await;
    }
    domain
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
                    e.to_string().contains("did not take effect"),
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
    assert_eq!(current.version, *version);
    assert!(
        (2..=OPERATORS as u64 + 1).contains(&current.seq),
        "[{}] the winner's record is one of the racing seqs: {}",
        s.url(),
        current.seq
    );
    let lineage = ok(s, "lineage", catalog.lineage(&domain).await);
    let chain: Vec<(&str, Option<&str>)> = ok(s, "chain", lineage.chain())
        .iter()
        .map(|r| (r.version.as_str(), r.previous.as_deref()))
        .collect();
    assert_eq!(
        chain,
        [("v0", None), (version.as_str(), Some("v0"))],
        "[{}] only the winner's move took effect",
        s.url()
    );

    // Nothing is left stuck: the next move works, above every record written.
    let next = ok(
        s,
        "activate after the race",
        catalog.activate(&domain, "v0", "after", "retry").await,
    );
    assert_eq!(next.seq, lineage.records().len() as u64 + 1);
}

/// Eight operators run `rollback` at once from the same CURRENT: exactly one wins,
/// its outcome names the versions it went between, and only one version is marked.
pub async fn check_concurrent_rollback(store: Arc<dyn ObjectStore>) {
    const OPERATORS: usize = 8;
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("race-rollback");
    for v in ["v1", "v2", "v3"] {
        publish_small(&catalog, &domain, v, 1).await;
        ok(
            s,
            "activate",
            catalog.activate(&domain, v, "setup", "base").await,
        );
    }
    let barrier = Arc::new(ReadBarrier::new(current_key(&domain), OPERATORS));
    let racing = Catalog::new(Arc::new(Intercepted::new(store.clone(), barrier)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=OPERATORS {
        let (catalog, domain) = (racing.clone(), domain.clone());
        tasks.spawn(async move {
            let options = MoveOptions::new(format!("op{i}"), "race");
            catalog.rollback_with(&domain, None, &options).await
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("operator task") {
            Ok(outcome) => winners.push(outcome),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "[{}] loser: {e}", s.url()),
        }
    }
    assert_eq!(winners.len(), 1, "[{}] winners: {winners:?}", s.url());
    assert_eq!(
        (
            winners[0].from.as_deref(),
            winners[0].current.version.as_str()
        ),
        (Some("v3"), "v2"),
        "[{}] the winner's outcome",
        s.url()
    );
    let versions = ok(s, "versions", catalog.versions(&domain).await);
    let marked: Vec<&str> = versions
        .iter()
        .filter(|v| v.rolled_back)
        .map(|v| v.manifest.version.as_str())
        .collect();
    assert_eq!(marked, ["v3"], "[{}] one rollback took effect", s.url());
    assert_eq!(
        ok(s, "current", catalog.current(&domain).await),
        Some(winners[0].current.clone())
    );
}

/// A move conditioned on a version the operator saw is refused, naming who moved
/// CURRENT and when, once CURRENT names another version.
pub async fn check_expected_current(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = domain_with(&catalog, "expect", &["v1", "v2", "v3"]).await;
    ok(
        s,
        "activate v1",
        catalog.activate(&domain, "v1", "alice", "one").await,
    );
    ok(
        s,
        "activate v2",
        catalog.activate(&domain, "v2", "bob", "two").await,
    );
    let stale = MoveOptions {
        expect_current: Some("v1".to_string()),
        ..MoveOptions::new("carol", "saw v1")
    };
    for (what, result) in [
        (
            "activate",
            catalog.activate_with(&domain, "v3", &stale).await,
        ),
        (
            "rollback",
            catalog.rollback_with(&domain, None, &stale).await,
        ),
    ] {
        let msg = expect_kind(s, what, result, ErrorKind::Conflict);
        assert!(
            msg.contains("expected CURRENT to be v1") && msg.contains("v2") && msg.contains("bob"),
            "[{}] {what}: the conflict names what CURRENT is and who set it: {msg}",
            s.url()
        );
    }
    assert_eq!(ok(s, "history", catalog.history(&domain).await).len(), 2);
    let fresh_view = MoveOptions {
        expect_current: Some("v2".to_string()),
        ..MoveOptions::new("carol", "saw v2")
    };
    let moved = ok(
        s,
        "activate as expected",
        catalog.activate_with(&domain, "v3", &fresh_view).await,
    );
    assert_eq!(moved.from.as_deref(), Some("v2"));
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

/// A record left by an operator that died between its history record and CURRENT
/// (or whose write of CURRENT failed) never takes effect: later moves neither
/// complete it nor trip over it.
pub async fn check_failed_move_never_takes_effect(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = domain_with(&catalog, "failed-move", &["v1", "v2", "v3"]).await;
    ok(
        s,
        "activate v1",
        catalog.activate(&domain, "v1", "t", "r").await,
    );
    let orphan = HistoryRecord {
        seq: 2,
        base: Some(1),
        action: Action::Activate,
        version: "v2".to_string(),
        previous: Some("v1".to_string()),
        at: "2026-01-01T00:00:00Z".to_string(),
        actor: "crashed".to_string(),
        reason: "died before writing CURRENT".to_string(),
        policy_override: None,
    };
    let body = Bytes::from(serde_json::to_vec(&orphan).expect("serialize"));
    ok(
        s,
        "put orphan record",
        s.put(&history_key(&domain, 2), body, PutMode::Create).await,
    );

    let next = ok(
        s,
        "activate over a failed move",
        catalog.activate(&domain, "v3", "t", "r").await,
    );
    assert_eq!((next.version.as_str(), next.seq), ("v3", 3));
    let back = ok(
        s,
        "rollback",
        catalog.rollback(&domain, None, "t", "r").await,
    );
    assert_eq!(
        back.version,
        "v1",
        "[{}] v2 was never current, so a rollback from v3 skips it",
        s.url()
    );
    let lineage = ok(s, "lineage", catalog.lineage(&domain).await);
    assert_eq!(
        ok(s, "effective seqs", lineage.effective_seqs()),
        [1, 3, 4].into(),
        "[{}] record 2 never took effect",
        s.url()
    );
}

/// Faults at every store call of an activate and of a rollback, each as a refused
/// call and as a call whose answer was lost after it landed: a move that reports
/// failure has not moved CURRENT and never does later; one that reports success has.
pub async fn check_move_faults_at_every_step(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    for rollback in [false, true] {
        let calls = {
            let (catalog, domain, hooks) = move_fixture(&store, rollback).await;
            hooks.arm(usize::MAX, false);
            ok(
                s,
                "move without faults",
                run_move(&catalog, &domain, rollback).await,
            );
            hooks.calls()
        };
        assert!(calls >= 4, "[{}] a move makes {calls} store calls", s.url());
        for step in 0..calls {
            for lost in [false, true] {
                let (catalog, domain, hooks) = move_fixture(&store, rollback).await;
                hooks.arm(step, lost);
                let result = run_move(&catalog, &domain, rollback).await;
                let context = format!(
                    "[{}] {} with a fault at call {step} ({})",
                    s.url(),
                    if rollback { "rollback" } else { "activate" },
                    if lost { "answer lost" } else { "refused" }
                );
                assert!(hooks.fired(), "{context}: no fault was injected");
                check_after_fault(&store, &domain, rollback, result, &context).await;
            }
        }
    }
}

/// Domain with v1..v4 published; v1, v2, v3 activated in order (v4 is the
/// activation target; a rollback goes v3 -> v2). The catalog goes through hooks.
async fn move_fixture(
    store: &Arc<dyn ObjectStore>,
    rollback: bool,
) -> (Catalog, String, Arc<FailAt>) {
    let s = store.as_ref();
    let plain = Catalog::new(store.clone());
    let domain = fresh(if rollback { "fault-rb" } else { "fault-act" });
    for v in ["v1", "v2", "v3", "v4"] {
        publish_small(&plain, &domain, v, 1).await;
    }
    for v in ["v1", "v2", "v3"] {
        ok(
            s,
            "activate",
            plain.activate(&domain, v, "setup", "base").await,
        );
    }
    let hooks = Arc::new(FailAt::default());
    let faulty = Catalog::new(Arc::new(Intercepted::new(store.clone(), hooks.clone())));
    (faulty, domain, hooks)
}

async fn run_move(catalog: &Catalog, domain: &str, rollback: bool) -> crate::Result<Current> {
    if rollback {
        catalog.rollback(domain, None, "faulty", "fault").await
    } else {
        catalog.activate(domain, "v4", "faulty", "fault").await
    }
}

/// What must hold after a move that met a fault, checked with clean follow-up moves.
async fn check_after_fault(
    store: &Arc<dyn ObjectStore>,
    domain: &str,
    rollback: bool,
    result: crate::Result<Current>,
    context: &str,
) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let target = if rollback { "v2" } else { "v4" };
    let now = ok(s, "current", catalog.current(domain).await).expect("CURRENT exists");
    let took_effect = match &result {
        Ok(current) => {
            assert_eq!(
                current, &now,
                "{context}: success, but CURRENT is not what it said"
            );
            true
        }
        Err(e) if e.to_string().contains("unknown") => now.version == target,
        Err(e) => {
            assert_eq!(
                now.version, "v3",
                "{context}: reported failure ({e}) but CURRENT moved"
            );
            false
        }
    };
    // Later moves never complete a failed one: a clean rollback goes from what
    // CURRENT really is, and the chain holds only moves that reported success.
    let back = ok(
        s,
        "follow-up rollback",
        catalog.rollback(domain, None, "t", "after").await,
    );
    let lineage = ok(s, "lineage", catalog.lineage(domain).await);
    let versions: Vec<&str> = ok(s, "chain", lineage.chain())
        .iter()
        .map(|r| r.version.as_str())
        .collect();
    let expected: &[&str] = match (rollback, took_effect) {
        (false, true) => &["v1", "v2", "v3", "v4", "v3"],
        (true, true) => &["v1", "v2", "v3", "v2", "v1"],
        (_, false) => &["v1", "v2", "v3", "v2"],
    };
    assert_eq!(versions, expected, "{context}: the moves that took effect");
    assert_eq!(
        back.version,
        *expected.last().expect("non-empty"),
        "{context}: follow-up rollback"
    );
}

/// Counts store calls; fails the `n`-th one (refused before it reaches the store, or
/// with its answer lost after it landed).
#[derive(Debug, Default)]
struct FailAt {
    seen: AtomicUsize,
    at: AtomicUsize,
    lost: AtomicBool,
    fired: AtomicBool,
    /// In `lost` mode, the key of the call whose answer is to be lost.
    losing: std::sync::Mutex<Option<String>>,
}

impl FailAt {
    fn arm(&self, at: usize, lost: bool) {
        self.seen.store(0, Ordering::SeqCst);
        self.at.store(at, Ordering::SeqCst);
        self.lost.store(lost, Ordering::SeqCst);
        self.fired.store(false, Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Hooks for FailAt {
    async fn before(&self, op: Op<'_>) -> crate::Result<()> {
        if self.seen.fetch_add(1, Ordering::SeqCst) != self.at.load(Ordering::SeqCst) {
            return Ok(());
        }
        if self.lost.load(Ordering::SeqCst) {
            *self.losing.lock().expect("not poisoned") = Some(op.key().to_string());
            return Ok(());
        }
        self.fired.store(true, Ordering::SeqCst);
        Err(injected(op.key(), "fault before the call", false))
    }

    fn lost_answer(&self, op: Op<'_>) -> crate::Result<()> {
        let mut losing = self.losing.lock().expect("not poisoned");
        if losing.as_deref() == Some(op.key()) {
            *losing = None;
            self.fired.store(true, Ordering::SeqCst);
            return Err(injected(op.key(), "fault: answer lost", false));
        }
        Ok(())
    }
}
