//! One wrapper for injecting faults into, observing or coordinating the calls a
//! component makes to an [`ObjectStore`]: [`Intercepted`] delegates every call to an
//! inner store and lets a [`Hooks`] value act before and after it.

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{GetResult, ObjectMeta, ObjectStore, PutMode, Result, StoreError};

/// One call to an [`ObjectStore`], with its arguments (except data being written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// [`ObjectStore::put`].
    Put {
        /// Object key.
        key: &'a str,
        /// How an existing object is treated.
        mode: &'a PutMode,
    },
    /// [`ObjectStore::put_file`].
    PutFile {
        /// Object key.
        key: &'a str,
        /// The local file being uploaded.
        path: &'a Path,
    },
    /// [`ObjectStore::get`].
    Get {
        /// Object key.
        key: &'a str,
    },
    /// [`ObjectStore::get_if_changed`].
    GetIfChanged {
        /// Object key.
        key: &'a str,
        /// The ETag the caller already has.
        etag: Option<&'a str>,
    },
    /// [`ObjectStore::get_range`].
    GetRange {
        /// Object key.
        key: &'a str,
        /// First byte asked for.
        offset: u64,
        /// Bytes asked for.
        len: u64,
    },
    /// [`ObjectStore::head`].
    Head {
        /// Object key.
        key: &'a str,
    },
    /// [`ObjectStore::list`].
    List {
        /// Key prefix listed.
        prefix: &'a str,
    },
    /// [`ObjectStore::delete`].
    Delete {
        /// Object key.
        key: &'a str,
    },
}

impl Op<'_> {
    /// The key the call is about (the prefix, for [`Op::List`]).
    pub fn key(&self) -> &str {
        match *self {
            Op::Put { key, .. }
            | Op::PutFile { key, .. }
            | Op::Get { key }
            | Op::GetIfChanged { key, .. }
            | Op::GetRange { key, .. }
            | Op::Head { key }
            | Op::Delete { key } => key,
            Op::List { prefix } => prefix,
        }
    }
}

/// What an [`Intercepted`] store does around each call. Every method has a no-op
/// default, so an implementation names only the calls it cares about.
#[async_trait]
pub trait Hooks: Debug + Send + Sync {
    /// Runs before `op` reaches the inner store. An `Err` is returned to the caller
    /// instead and the inner store is not called (a fault); awaiting here delays the
    /// call (a barrier, a pause).
    async fn before(&self, _op: Op<'_>) -> Result<()> {
        Ok(())
    }

    /// Runs once the inner store has answered `op` (successfully or not), before the
    /// answer goes back to the caller; only for calls `before` let through.
    async fn after(&self, _op: Op<'_>) {}

    /// Runs after `after`: an `Err` replaces the inner store's answer, as when a call
    /// reached the store but its answer was lost (a timeout after the write landed).
    fn lost_answer(&self, _op: Op<'_>) -> Result<()> {
        Ok(())
    }

    /// Sees the bytes of every successful [`ObjectStore::get_range`], e.g. to count them.
    fn after_range(&self, _key: &str, _offset: u64, _bytes: &Bytes) {}

    /// May edit the metadata of every successful [`ObjectStore::head`], e.g. to make an
    /// object look replaced.
    fn after_head(&self, _meta: &mut ObjectMeta) {}
}

/// An [`ObjectStore`] that delegates every call to `inner`, running `hooks` around it.
/// The URL is the inner store's, so messages read as they would without the wrapper.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// use async_trait::async_trait;
/// use tusk_store::conformance::{Hooks, Intercepted, Op, injected};
/// use tusk_store::{ErrorKind, LocalStore, ObjectStore};
///
/// /// Fails every delete while `on` is set.
/// #[derive(Debug, Default)]
/// struct FailDeletes {
///     on: AtomicBool,
/// }
///
/// #[async_trait]
/// impl Hooks for FailDeletes {
///     async fn before(&self, op: Op<'_>) -> tusk_store::Result<()> {
///         match op {
///             Op::Delete { key } if self.on.load(Ordering::SeqCst) => {
///                 Err(injected(key, "delete refused", false))
///             }
///             _ => Ok(()),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let local: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).unwrap());
/// let hooks = Arc::new(FailDeletes::default());
/// let store = Intercepted::new(local, hooks.clone());
///
/// hooks.on.store(true, Ordering::SeqCst);
/// let err = store.delete("d/CURRENT").await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Internal);
/// hooks.on.store(false, Ordering::SeqCst);
/// store.delete("d/CURRENT").await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Intercepted {
    inner: Arc<dyn ObjectStore>,
    hooks: Arc<dyn Hooks>,
}

impl Intercepted {
    /// Wraps `inner`; keep a clone of `hooks` to steer it from the test.
    pub fn new(inner: Arc<dyn ObjectStore>, hooks: Arc<dyn Hooks>) -> Intercepted {
        Intercepted { inner, hooks }
    }

    /// The wrapped store, for calls that should bypass the hooks.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// Runs `call` on the inner store between the `before` and `after` hooks.
    async fn around<T>(
        &self,
        op: Op<'_>,
        call: impl std::future::Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        self.hooks.before(op).await?;
        let result = call.await;
        self.hooks.after(op).await;
        self.hooks.lost_answer(op)?;
        result
    }
}

/// A [`StoreError::Backend`] for an injected fault on `key`; `retryable` picks between
/// [`crate::ErrorKind::Retryable`] and [`crate::ErrorKind::Internal`]. The message
/// starts with "injected", so tests can tell it from a real failure.
pub fn injected(key: &str, detail: impl std::fmt::Display, retryable: bool) -> StoreError {
    StoreError::Backend {
        backend: "intercepted",
        key: key.to_string(),
        detail: format!("injected {detail}"),
        retryable,
    }
}

#[async_trait]
impl ObjectStore for Intercepted {
    fn url(&self) -> String {
        self.inner.url()
    }

    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let op = Op::Put { key, mode: &mode };
        self.around(op, self.inner.put(key, data, mode.clone()))
            .await
    }

    async fn put_file(&self, key: &str, path: &Path, crc32: u32) -> Result<ObjectMeta> {
        let op = Op::PutFile { key, path };
        self.around(op, self.inner.put_file(key, path, crc32)).await
    }

    async fn get(&self, key: &str) -> Result<GetResult> {
        self.around(Op::Get { key }, self.inner.get(key)).await
    }

    async fn get_if_changed(&self, key: &str, etag: Option<&str>) -> Result<Option<GetResult>> {
        let op = Op::GetIfChanged { key, etag };
        self.around(op, self.inner.get_if_changed(key, etag)).await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        let op = Op::GetRange { key, offset, len };
        let bytes = self
            .around(op, self.inner.get_range(key, offset, len))
            .await?;
        self.hooks.after_range(key, offset, &bytes);
        Ok(bytes)
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let mut meta = self.around(Op::Head { key }, self.inner.head(key)).await?;
        self.hooks.after_head(&mut meta);
        Ok(meta)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.around(Op::List { prefix }, self.inner.list(prefix))
            .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.around(Op::Delete { key }, self.inner.delete(key))
            .await
    }
}
