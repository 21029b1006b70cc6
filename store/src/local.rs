//! The local-directory store: the embedded default.
//!
//! Key `a/b/c` is the file `<root>/a/b/c`. Keys are validated: no leading `/`, no
//! empty segment, and no segment starting with `.` (which rules out `.` and `..` and
//! reserves dot-names for the store's own temp and lock files, so those are never
//! visible as objects). How ETags are derived is described in `local/etag.rs`; how
//! replacements are locked in `local/lock.rs`.
//!
//! An object's `last_modified` is the time of its put, as on S3: `put_file` links the
//! source file when it can, and a link shares the source's times (its build time), so
//! the time is set to now after linking. gc judges ages by it.
//!
//! Limits of a directory compared with an object store: a key cannot be both an
//! object and a "directory" of other objects (`a` and `a/b`); deleting objects leaves
//! their (empty) directories behind.

mod etag;
mod fsops;
mod lock;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use crate::blocking::run_blocking;
use crate::{GetResult, ObjectMeta, ObjectStore, PutMode, Result, StoreError, keys};

/// A store rooted at a local directory. Create-only writes use create-exclusive
/// files; replacements use write-to-temp + rename, so readers never see a partial
/// object.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created if missing). A relative `root` is resolved
    /// against the current directory.
    pub fn new(root: impl Into<PathBuf>) -> crate::Result<Self> {
        LocalStore::with_root(root.into(), true)
    }

    /// The store at an existing directory `root`; a missing one is a `NotFound`
    /// error naming it, never created (for commands that only read or move
    /// pointers: a mistyped path must not leave a directory behind).
    pub fn open_existing(root: impl Into<PathBuf>) -> crate::Result<Self> {
        LocalStore::with_root(root.into(), false)
    }

    fn with_root(root: PathBuf, create: bool) -> crate::Result<Self> {
        if root.as_os_str().is_empty() {
            return Err(StoreError::Invalid {
                what: "store path".to_string(),
                detail: "the path is empty".to_string(),
            });
        }
        let root = std::path::absolute(&root).map_err(|e| StoreError::io(&root, e))?;
        if create {
            std::fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        } else if !root.exists() {
            return Err(StoreError::NotFound {
                key: root.display().to_string(),
            });
        }
        if !root.is_dir() {
            return Err(StoreError::Invalid {
                what: "store path".to_string(),
                detail: format!("{} is not a directory", root.display()),
            });
        }
        Ok(LocalStore { root })
    }

    /// The root directory.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The file that holds `key`, after validating the key.
    pub fn object_path(&self, key: &str) -> Result<PathBuf> {
        keys::validate_key(key, false)?;
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn url(&self) -> String {
        format!("file://{}", self.root.display())
    }

    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let path = self.object_path(key)?;
        let owned = key.to_string();
        run_blocking(key, move || fsops::put(&owned, &path, &data, &mode)).await
    }

    async fn put_file(&self, key: &str, path: &Path, crc32: u32) -> Result<ObjectMeta> {
        let object = self.object_path(key)?;
        let (owned, src) = (key.to_string(), path.to_path_buf());
        run_blocking(key, move || {
            fsops::put_file(&owned, &object, &src, crc32, true)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<GetResult> {
        let path = self.object_path(key)?;
        let owned = key.to_string();
        run_blocking(key, move || fsops::get(&owned, &path)).await
    }

    async fn get_if_changed(&self, key: &str, etag: Option<&str>) -> Result<Option<GetResult>> {
        let path = self.object_path(key)?;
        let (owned, etag) = (key.to_string(), etag.map(str::to_string));
        run_blocking(key, move || {
            fsops::get_if_changed(&owned, &path, etag.as_deref())
        })
        .await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        let path = self.object_path(key)?;
        let owned = key.to_string();
        run_blocking(key, move || fsops::get_range(&owned, &path, offset, len)).await
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let path = self.object_path(key)?;
        let owned = key.to_string();
        run_blocking(key, move || fsops::head(&owned, &path)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        keys::validate_key(prefix, true)?;
        let (root, prefix_owned) = (self.root.clone(), prefix.to_string());
        run_blocking(prefix, move || fsops::list(&root, &prefix_owned)).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.object_path(key)?;
        let owned = key.to_string();
        run_blocking(key, move || fsops::delete(&owned, &path)).await
    }
}
