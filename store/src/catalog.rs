//! The tusk store layout over any [`ObjectStore`]: publish, list, activate, roll back.

use std::path::Path;
use std::sync::Arc;

use crate::{Current, HistoryRecord, Manifest, ObjectStore, Result};

/// A committed version with its manifest.
#[derive(Debug, Clone)]
pub struct VersionSummary {
    /// The version's manifest.
    pub manifest: Manifest,
    /// True when `CURRENT` names it.
    pub is_current: bool,
}

/// Result of polling `CURRENT` with an ETag.
#[derive(Debug, Clone)]
pub enum CurrentPoll {
    /// `CURRENT` has not changed since the ETag given.
    Unchanged,
    /// `CURRENT` is new or changed (or `None` when the domain has none yet); keep
    /// `etag` for the next poll.
    Changed {
        /// The pointer, if any.
        current: Option<Current>,
        /// ETag to pass to the next poll.
        etag: Option<String>,
    },
}

/// Domain-level operations on one store.
#[derive(Debug, Clone)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
}

impl Catalog {
    /// A catalog over `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Catalog { store }
    }

    /// Opens the store named by `url` (`file:///path`, a bare path, later `s3://...`).
    pub fn open(url: &str) -> Result<Self> {
        Ok(Catalog::new(crate::open_store(url)?))
    }

    /// The underlying object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The store URL, for messages.
    pub fn url(&self) -> String {
        self.store.url()
    }

    /// Domains that have at least one object in the store, sorted.
    pub async fn domains(&self) -> Result<Vec<String>> {
        todo!("store: Catalog::domains")
    }

    /// Committed versions of `domain` (those with a valid MANIFEST), oldest first.
    pub async fn versions(&self, domain: &str) -> Result<Vec<VersionSummary>> {
        let _ = domain;
        todo!("store: Catalog::versions")
    }

    /// The manifest of a committed version; `NotFound` when it is not committed.
    pub async fn manifest(&self, domain: &str, version: &str) -> Result<Manifest> {
        let _ = (domain, version);
        todo!("store: Catalog::manifest")
    }

    /// Publishes a built version: uploads every shard named by `manifest` from
    /// `shard_dir` (file name = `ShardEntry::object`), then creates `MANIFEST.json`
    /// (create-only) last. Refuses a version id that already has objects.
    /// Does not move `CURRENT`.
    pub async fn publish(&self, manifest: &Manifest, shard_dir: &Path) -> Result<()> {
        let _ = (manifest, shard_dir);
        todo!("store: Catalog::publish")
    }

    /// The current pointer of `domain`, if any.
    pub async fn current(&self, domain: &str) -> Result<Option<Current>> {
        let _ = domain;
        todo!("store: Catalog::current")
    }

    /// Conditional read of `CURRENT`: cheap when nothing changed since `etag`.
    pub async fn poll_current(&self, domain: &str, etag: Option<&str>) -> Result<CurrentPoll> {
        let _ = (domain, etag);
        todo!("store: Catalog::poll_current")
    }

    /// Makes `version` current: creates history record `seq + 1` (create-only; a
    /// concurrent move makes this fail with `Conflict`), then rewrites `CURRENT`.
    /// The version must be committed.
    pub async fn activate(&self, domain: &str, version: &str, actor: &str, reason: &str) -> Result<Current> {
        let _ = (domain, version, actor, reason);
        todo!("store: Catalog::activate")
    }

    /// Rolls back to `to`, or by default to the version that was current before the
    /// current one. Recorded as a `rollback` history record.
    pub async fn rollback(&self, domain: &str, to: Option<&str>, actor: &str, reason: &str) -> Result<Current> {
        let _ = (domain, to, actor, reason);
        todo!("store: Catalog::rollback")
    }

    /// Every history record of `domain`, oldest first.
    pub async fn history(&self, domain: &str) -> Result<Vec<HistoryRecord>> {
        let _ = domain;
        todo!("store: Catalog::history")
    }

    /// Downloads shard `index` of `manifest` to `dest`, verified against the
    /// manifest's size and CRC32 (temp file, fsync, rename).
    pub async fn download_shard(&self, manifest: &Manifest, index: u32, dest: &Path) -> Result<()> {
        let _ = (manifest, index, dest);
        todo!("store: Catalog::download_shard")
    }
}
