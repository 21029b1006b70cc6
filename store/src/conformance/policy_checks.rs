//! Checks of the write-policy history: conditional set, conflicts that name the
//! winner, and a race of concurrent `set_policy` calls with exactly one winner.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tokio::sync::Barrier;

use super::intercept::{Hooks, Intercepted, Op};
use super::{expect_kind, fresh, ok, publish_small};
use crate::keys::policy_prefix;
use crate::policy::Policy;
use crate::{Catalog, ErrorKind, MoveOptions, ObjectStore};

fn min_records(n: u64) -> Policy {
    Policy {
        min_records: n,
        ..Policy::default()
    }
}

/// Set, set again on the seq seen, a stale set (Conflict naming who set what when),
/// a set on a seq never set (Invalid), and the history.
pub async fn check_policy_set_conditional(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("policy");
    assert!(ok(s, "policy", catalog.policy(&domain).await).is_none());
    let first = ok(
        s,
        "set seq 1",
        catalog
            .set_policy(&domain, &min_records(10), 0, "alice", "first")
            .await,
    );
    assert_eq!(
        (first.seq, first.actor.as_str()),
        (1, "alice"),
        "[{}]",
        s.url()
    );
    let second = ok(
        s,
        "set seq 2",
        catalog
            .set_policy(&domain, &min_records(20), 1, "bob", "raise")
            .await,
    );
    assert_eq!(second.seq, 2, "[{}]", s.url());

    let msg = expect_kind(
        s,
        "a set on the stale seq 1",
        catalog
            .set_policy(&domain, &min_records(30), 1, "carol", "late")
            .await,
        ErrorKind::Conflict,
    );
    for part in ["seq 2", "bob", &second.set_at, "min-records 20"] {
        assert!(
            msg.contains(part),
            "[{}] conflict names {part}: {msg}",
            s.url()
        );
    }
    expect_kind(
        s,
        "a set on a seq never set",
        catalog
            .set_policy(&domain, &min_records(30), 7, "carol", "ahead")
            .await,
        ErrorKind::Invalid,
    );

    let in_force = ok(s, "policy", catalog.policy(&domain).await).expect("a policy");
    assert_eq!(
        in_force,
        second,
        "[{}] the newest record is in force",
        s.url()
    );
    let history = ok(s, "history", catalog.policy_history(&domain).await);
    assert_eq!(history, [first, second], "[{}] policy history", s.url());
}

/// Every one of the first `n` listings of `prefix` waits until all `n` have their
/// answer, so `n` callers see the same policy before any of them writes.
#[derive(Debug)]
struct ListBarrier {
    prefix: String,
    n: usize,
    seen: AtomicUsize,
    barrier: Barrier,
}

#[async_trait]
impl Hooks for ListBarrier {
    async fn after(&self, op: Op<'_>) {
        if let Op::List { prefix } = op
            && prefix == self.prefix
            && self.seen.fetch_add(1, Ordering::SeqCst) < self.n
        {
            self.barrier.wait().await;
        }
    }
}

/// Eight operators set the policy on the same seq at once: exactly one wins, the
/// others get a Conflict naming the winner, and the winner's record is in force.
pub async fn check_concurrent_set_policy(store: Arc<dyn ObjectStore>) {
    const OPERATORS: usize = 8;
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("policy-race");
    ok(
        s,
        "set seq 1",
        catalog
            .set_policy(&domain, &min_records(1), 0, "setup", "base")
            .await,
    );
    let hooks = Arc::new(ListBarrier {
        prefix: policy_prefix(&domain),
        n: OPERATORS,
        seen: AtomicUsize::new(0),
        barrier: Barrier::new(OPERATORS),
    });
    let racing = Catalog::new(Arc::new(Intercepted::new(store.clone(), hooks)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=OPERATORS {
        let (catalog, domain) = (racing.clone(), domain.clone());
        tasks.spawn(async move {
            let actor = format!("op{i}");
            let result = catalog
                .set_policy(&domain, &min_records(100 + i as u64), 1, &actor, "race")
                .await;
            (actor, result)
        });
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (actor, result) = joined.expect("operator task");
        match result {
            Ok(record) => winners.push(record),
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    ErrorKind::Conflict,
                    "[{}] loser {actor}: {e}",
                    s.url()
                );
                losers.push(e.to_string());
            }
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "[{}] exactly one concurrent set_policy must win: {winners:?}",
        s.url()
    );
    let winner = &winners[0];
    assert_eq!(winner.seq, 2, "[{}]", s.url());
    for msg in &losers {
        assert!(
            msg.contains(&winner.actor) && msg.contains("seq 2"),
            "[{}] a loser's conflict names the winner {}: {msg}",
            s.url(),
            winner.actor
        );
    }
    let in_force = ok(s, "policy", catalog.policy(&domain).await).expect("a policy");
    assert_eq!(
        &in_force,
        winner,
        "[{}] the winner's policy is in force",
        s.url()
    );
    let history = ok(s, "history", catalog.policy_history(&domain).await);
    assert_eq!(history.len(), 2, "[{}] {history:?}", s.url());
}

/// Activation checks the policy before it moves CURRENT: a version that breaks it is
/// refused (CURRENT and the history untouched), passes only with an override whose
/// reason and overridden rules the history records; rollbacks are not gated.
pub async fn check_activation_gated_by_policy(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("gated");
    let small = publish_small(&catalog, &domain, "v1", 1).await;
    publish_small(&catalog, &domain, "v2", 1).await;
    ok(
        s,
        "activate v1",
        catalog.activate(&domain, "v1", "t", "first").await,
    );
    let floor = small.records + 1000;
    ok(
        s,
        "set policy",
        catalog
            .set_policy(&domain, &min_records(floor), 0, "alice", "floor")
            .await,
    );

    let msg = expect_kind(
        s,
        "activate a version under min-records",
        catalog.activate(&domain, "v2", "bob", "push").await,
        ErrorKind::Invalid,
    );
    assert!(
        msg.contains("min-records") && msg.contains("nothing was activated"),
        "[{}] the refusal names the rule: {msg}",
        s.url()
    );
    assert_eq!(ok(s, "history", catalog.history(&domain).await).len(), 1);
    assert_eq!(
        ok(s, "current", catalog.current(&domain).await).map(|c| c.version),
        Some("v1".to_string()),
        "[{}] a refused activation moves nothing",
        s.url()
    );

    let forced = MoveOptions {
        policy_override: Some("known small test push".to_string()),
        ..MoveOptions::new("bob", "push")
    };
    let moved = ok(
        s,
        "activate with an override",
        catalog.activate_with(&domain, "v2", &forced).await,
    );
    assert_eq!(moved.current.version, "v2");
    let history = ok(s, "history", catalog.history(&domain).await);
    let recorded = history
        .last()
        .and_then(|r| r.policy_override.clone())
        .unwrap_or_default();
    assert!(
        recorded.contains("known small test push") && recorded.contains("min-records"),
        "[{}] the history records the override: {recorded:?}",
        s.url()
    );
    assert!(history[0].policy_override.is_none());

    // An incident tool is never blocked by the policy.
    let back = ok(
        s,
        "rollback",
        catalog.rollback(&domain, None, "carol", "bad").await,
    );
    assert_eq!(back.version, "v1");
}
