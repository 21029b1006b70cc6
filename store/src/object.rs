//! The object primitives every store backend provides.

use std::fmt::Debug;
use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use crate::Result;

/// How a `put` treats an existing object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Replace whatever is there.
    Overwrite,
    /// Fail with [`crate::StoreError::AlreadyExists`] if the object exists
    /// (S3: `If-None-Match: *`; local: create-exclusive).
    Create,
    /// Replace only if the current object's ETag equals this one, else fail with
    /// [`crate::StoreError::Conflict`] (S3: `If-Match`).
    UpdateIf(String),
}

/// Metadata of one stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Key relative to the store root, `/`-separated.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Opaque version tag; changes whenever the object changes.
    pub etag: String,
    /// Last modification time, when the backend knows it.
    pub last_modified: Option<SystemTime>,
}

/// An object's bytes with its ETag.
#[derive(Debug, Clone)]
pub struct GetResult {
    /// The content.
    pub bytes: Bytes,
    /// The content's ETag.
    pub etag: String,
}

/// Object primitives over a store root. Keys are `/`-separated paths relative to the
/// root (`pages/versions/v1/MANIFEST.json`); backends never interpret them beyond that.
#[async_trait]
pub trait ObjectStore: Debug + Send + Sync {
    /// The store's URL, for messages (`file:///srv/tusk`, `s3://bucket/prefix`).
    fn url(&self) -> String;

    /// Writes a small object from memory according to `mode`; returns its metadata.
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta>;

    /// Uploads a (possibly large) local file as `key`, overwriting. `crc32` is the
    /// file's CRC32, which backends that can verify uploads check.
    async fn put_file(&self, key: &str, path: &Path, crc32: u32) -> Result<ObjectMeta>;

    /// Reads a whole (small) object.
    async fn get(&self, key: &str) -> Result<GetResult>;

    /// Conditional read: `Ok(None)` when the object's ETag still equals `etag`
    /// (S3: `If-None-Match`), so polling an unchanged object is cheap.
    async fn get_if_changed(&self, key: &str, etag: Option<&str>) -> Result<Option<GetResult>>;

    /// Reads `len` bytes at `offset` of an object (fewer only at its end).
    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes>;

    /// Metadata of one object.
    async fn head(&self, key: &str) -> Result<ObjectMeta>;

    /// Every object whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;

    /// Deletes an object; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
}
