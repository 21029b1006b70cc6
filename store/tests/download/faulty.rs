//! A store wrapper for download tests: counts ranged reads and bytes served, fails
//! `get_range` with a retryable backend error after a number of calls, can change
//! the ETag `head` reports, and tracks how many ranged reads overlap.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use tusk_store::{GetResult, LocalStore, ObjectMeta, ObjectStore, PutMode, Result, StoreError};

/// `LocalStore` with injected faults and counters.
#[derive(Debug)]
pub struct FaultyStore {
    inner: LocalStore,
    /// Successful `get_range` calls allowed before they start failing.
    calls_left: AtomicU64,
    served: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    etag_suffix: Mutex<String>,
}

impl FaultyStore {
    pub fn new(inner: LocalStore) -> FaultyStore {
        FaultyStore {
            inner,
            calls_left: AtomicU64::new(u64::MAX),
            served: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            etag_suffix: Mutex::new(String::new()),
        }
    }

    /// From now on, `calls` more `get_range` calls succeed, then every one fails.
    pub fn fail_after(&self, calls: u64) {
        self.calls_left.store(calls, Ordering::SeqCst);
    }

    /// Clears the fault.
    pub fn heal(&self) {
        self.calls_left.store(u64::MAX, Ordering::SeqCst);
    }

    /// Bytes returned by successful `get_range` calls so far; resets the counter.
    pub fn take_served(&self) -> u64 {
        self.served.swap(0, Ordering::SeqCst)
    }

    /// Most `get_range` calls seen at once.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Makes `head` report a different ETag, as if the object had been replaced.
    pub fn change_etag(&self, suffix: &str) {
        *self.etag_suffix.lock().expect("etag lock") = suffix.to_string();
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    fn url(&self) -> String {
        self.inner.url()
    }

    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        self.inner.put(key, data, mode).await
    }

    async fn put_file(&self, key: &str, path: &Path, crc32: u32) -> Result<ObjectMeta> {
        self.inner.put_file(key, path, crc32).await
    }

    async fn get(&self, key: &str) -> Result<GetResult> {
        self.inner.get(key).await
    }

    async fn get_if_changed(&self, key: &str, etag: Option<&str>) -> Result<Option<GetResult>> {
        self.inner.get_if_changed(key, etag).await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        let allowed = self
            .calls_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !allowed {
            return Err(StoreError::Backend {
                backend: "faulty",
                key: key.to_string(),
                detail: format!("injected connection reset at offset {offset}"),
                retryable: true,
            });
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        // Let other ranged reads start before this one ends.
        tokio::task::yield_now().await;
        let got = self.inner.get_range(key, offset, len).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let bytes = got?;
        self.served.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        Ok(bytes)
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let mut meta = self.inner.head(key).await?;
        meta.etag
            .push_str(&self.etag_suffix.lock().expect("etag lock"));
        Ok(meta)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
}
