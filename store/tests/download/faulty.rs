//! Hooks for download tests: the ready-made ranged-read faults and counters of
//! [`RangeFaults`], plus an ETag that `head` can be made to report as changed.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use tusk_store::conformance::{Hooks, Intercepted, Op, RangeFaults};
use tusk_store::{LocalStore, ObjectMeta, Result};

/// Ranged-read faults and counters, and a suffix appended to every ETag `head` reports.
#[derive(Debug, Default)]
pub struct DownloadHooks {
    ranges: RangeFaults,
    etag_suffix: Mutex<String>,
}

impl DownloadHooks {
    /// The hooks and a store that runs them around `inner`.
    pub fn wrap(inner: LocalStore) -> (Arc<DownloadHooks>, Intercepted) {
        let hooks = Arc::new(DownloadHooks::default());
        (hooks.clone(), Intercepted::new(Arc::new(inner), hooks))
    }

    /// The ranged-read faults and counters.
    pub fn ranges(&self) -> &RangeFaults {
        &self.ranges
    }

    /// Makes `head` report a different ETag, as if the object had been replaced.
    pub fn change_etag(&self, suffix: &str) {
        *self.etag_suffix.lock().expect("etag lock") = suffix.to_string();
    }
}

#[async_trait]
impl Hooks for DownloadHooks {
    async fn before(&self, op: Op<'_>) -> Result<()> {
        self.ranges.before(op).await
    }

    async fn after(&self, op: Op<'_>) {
        self.ranges.after(op).await;
    }

    fn after_range(&self, key: &str, offset: u64, bytes: &Bytes) {
        self.ranges.after_range(key, offset, bytes);
    }

    fn after_head(&self, meta: &mut ObjectMeta) {
        meta.etag
            .push_str(&self.etag_suffix.lock().expect("etag lock"));
    }
}
