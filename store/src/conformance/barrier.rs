//! Hooks that make a race deterministic: the first `n` reads of one key wait for each
//! other, so `n` operators all see the same state before any of them writes.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tokio::sync::Barrier;

use super::intercept::{Hooks, Op};

/// Once each of the first `n` `get`s of `key` has its answer, it waits at a barrier
/// until all `n` have theirs.
#[derive(Debug)]
pub(super) struct ReadBarrier {
    key: String,
    n: usize,
    seen: AtomicUsize,
    barrier: Barrier,
}

impl ReadBarrier {
    pub(super) fn new(key: String, n: usize) -> Self {
        ReadBarrier {
            key,
            n,
            seen: AtomicUsize::new(0),
            barrier: Barrier::new(n),
        }
    }
}

#[async_trait]
impl Hooks for ReadBarrier {
    async fn after(&self, op: Op<'_>) {
        if let Op::Get { key } = op
            && key == self.key
            && self.seen.fetch_add(1, Ordering::SeqCst) < self.n
        {
            self.barrier.wait().await;
        }
    }
}
