//! [`RangeFaults`]: hooks that interrupt ranged reads and count what they serve, for
//! tests of downloads that must resume rather than restart.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use super::intercept::{Hooks, Op, injected};
use crate::Result;

/// [`Hooks`] for [`ObjectStore::get_range`](crate::ObjectStore::get_range): after a
/// chosen number of calls every ranged read fails with a retryable error (as a reset
/// connection would), and the bytes of the successful ones are counted. Also records
/// how many ranged reads overlapped at most.
///
/// ```
/// # use std::sync::Arc;
/// # use tusk_store::conformance::{Intercepted, RangeFaults};
/// # use tusk_store::{LocalStore, ObjectStore};
/// # let dir = tempfile::tempdir().unwrap();
/// # let local: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).unwrap());
/// let faults = Arc::new(RangeFaults::new());
/// let store = Intercepted::new(local, faults.clone());
/// faults.fail_after(3); // three more ranged reads succeed, then they all fail
/// // ... run a download against `store` ...
/// faults.heal();
/// assert_eq!(faults.take_served(), 0);
/// ```
#[derive(Debug)]
pub struct RangeFaults {
    /// Successful `get_range` calls allowed before they start failing.
    calls_left: AtomicU64,
    served: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

impl RangeFaults {
    /// Hooks that let every ranged read through.
    pub fn new() -> RangeFaults {
        RangeFaults {
            calls_left: AtomicU64::new(u64::MAX),
            served: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        }
    }

    /// From now on `calls` more ranged reads succeed, then every one fails with a
    /// retryable backend error.
    pub fn fail_after(&self, calls: u64) {
        self.calls_left.store(calls, Ordering::SeqCst);
    }

    /// Clears the fault.
    pub fn heal(&self) {
        self.calls_left.store(u64::MAX, Ordering::SeqCst);
    }

    /// Bytes returned by successful ranged reads since the last call; resets the count.
    pub fn take_served(&self) -> u64 {
        self.served.swap(0, Ordering::SeqCst)
    }

    /// Most ranged reads seen in progress at once.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Default for RangeFaults {
    fn default() -> Self {
        RangeFaults::new()
    }
}

#[async_trait]
impl Hooks for RangeFaults {
    async fn before(&self, op: Op<'_>) -> Result<()> {
        let Op::GetRange { key, offset, .. } = op else {
            return Ok(());
        };
        let allowed = self
            .calls_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !allowed {
            return Err(injected(
                key,
                format_args!("connection reset at offset {offset}"),
                true,
            ));
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        // Let other ranged reads start before this one ends.
        tokio::task::yield_now().await;
        Ok(())
    }

    async fn after(&self, op: Op<'_>) {
        if matches!(op, Op::GetRange { .. }) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn after_range(&self, _key: &str, _offset: u64, bytes: &Bytes) {
        self.served.fetch_add(bytes.len() as u64, Ordering::SeqCst);
    }
}
