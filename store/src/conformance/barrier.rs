//! A wrapper store that makes a race deterministic: the first `n` reads of one key
//! wait for each other, so `n` operators all see the same state before any writes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Barrier;

use crate::{GetResult, ObjectMeta, ObjectStore, PutMode, Result};

/// Delegates everything to `inner`; the first `n` `get`s of `key` meet at a barrier.
#[derive(Debug)]
pub(super) struct BarrierStore {
    inner: Arc<dyn ObjectStore>,
    key: String,
    n: usize,
    seen: AtomicUsize,
    barrier: Barrier,
}

impl BarrierStore {
    pub(super) fn new(inner: Arc<dyn ObjectStore>, key: String, n: usize) -> Self {
        BarrierStore {
            inner,
            key,
            n,
            seen: AtomicUsize::new(0),
            barrier: Barrier::new(n),
        }
    }
}

#[async_trait]
impl ObjectStore for BarrierStore {
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
        let result = self.inner.get(key).await;
        if key == self.key && self.seen.fetch_add(1, Ordering::SeqCst) < self.n {
            self.barrier.wait().await;
        }
        result
    }

    async fn get_if_changed(&self, key: &str, etag: Option<&str>) -> Result<Option<GetResult>> {
        self.inner.get_if_changed(key, etag).await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        self.inner.get_range(key, offset, len).await
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
