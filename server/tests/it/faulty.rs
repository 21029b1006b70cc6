//! A store wrapper that fails ranged reads on demand and counts the bytes it
//! serves, so tests can interrupt a server's download and see what it re-fetches.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use tusk_store::{GetResult, LocalStore, ObjectMeta, ObjectStore, PutMode, Result, StoreError};

/// `LocalStore` whose `get_range` can be made to fail.
#[derive(Debug)]
pub struct FaultyStore {
    inner: LocalStore,
    calls_left: AtomicU64,
    served: AtomicU64,
}

impl FaultyStore {
    pub fn new(root: &Path) -> FaultyStore {
        FaultyStore {
            inner: LocalStore::new(root).expect("local store"),
            calls_left: AtomicU64::new(u64::MAX),
            served: AtomicU64::new(0),
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

    /// Bytes served by ranged reads since the last call.
    pub fn take_served(&self) -> u64 {
        self.served.swap(0, Ordering::SeqCst)
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
        let bytes = self.inner.get_range(key, offset, len).await?;
        self.served.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        Ok(bytes)
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
}
