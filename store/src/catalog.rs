//! The tusk store layout over any [`ObjectStore`]: publish, list, activate, roll back.
//!
//! Reading is here; publishing is in `catalog/publish.rs` (its publish marker in
//! `catalog/lease.rs`), moving the pointer in `catalog/pointer_ops.rs`.
//!
//! Choices worth knowing:
//! - [`Catalog::versions`] skips a version whose `MANIFEST.json` is corrupt (with a
//!   `tracing::warn!` naming it) so one damaged version does not hide the others;
//!   [`Catalog::manifest`] of that version returns the `CorruptDocument` error.
//! - [`Catalog::poll_current`] answers `Changed { current: None, etag: None }`
//!   whenever the domain has no `CURRENT` (each poll: there is no ETag to compare).

mod bounded;
pub(crate) mod diff;
pub(crate) mod gc;
pub(crate) mod lease;
pub(crate) mod lineage;
mod pointer_ops;
pub(crate) mod publish;

pub use pointer_ops::{Lineage, MoveOptions, MoveOutcome};

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crate::keys::{current_key, manifest_key, shard_key, validate_domain, validate_version};
use crate::{Current, ErrorKind, HistoryRecord, Manifest, ObjectStore, Result, StoreError};

/// A committed version with its manifest.
#[derive(Debug, Clone)]
pub struct VersionSummary {
    /// The version's manifest.
    pub manifest: Manifest,
    /// True when `CURRENT` names it.
    pub is_current: bool,
    /// True when a rollback left it and it was not made current again since.
    pub rolled_back: bool,
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

/// Parses a JSON document read from `key`.
fn parse_json<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::CorruptDocument {
        key: key.to_string(),
        detail: e.to_string(),
    })
}

impl Catalog {
    /// A catalog over `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Catalog { store }
    }

    /// Opens the store named by `url` (`s3://bucket/prefix`, `file:///path` or a bare path).
    pub fn open(url: &str) -> Result<Self> {
        Ok(Catalog::new(crate::open_store(url)?))
    }

    /// [`Catalog::open`] for a store that must exist: a missing local directory is
    /// `NotFound`, never created (see [`crate::open_existing_store`]).
    pub fn open_existing(url: &str) -> Result<Self> {
        Ok(Catalog::new(crate::open_existing_store(url)?))
    }

    /// The underlying object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The store URL, for messages.
    pub fn url(&self) -> String {
        self.store.url()
    }

    /// Domains that have at least one object in the store, sorted. A domain counts
    /// once it has a `versions/` object, a `CURRENT` or a write policy (`tusk policy
    /// set` may come before the first version).
    pub async fn domains(&self) -> Result<Vec<String>> {
        let mut domains = BTreeSet::new();
        for object in self.store.list("").await? {
            let Some((domain, rest)) = object.key.split_once('/') else {
                continue;
            };
            if marks_domain(rest) && validate_domain(domain).is_ok() {
                domains.insert(domain.to_string());
            }
        }
        Ok(domains.into_iter().collect())
    }

    /// Whether the store holds `domain`, by the rule of [`Catalog::domains`],
    /// listing only that domain's objects.
    pub async fn has_domain(&self, domain: &str) -> Result<bool> {
        validate_domain(domain)?;
        let prefix = format!("{domain}/");
        Ok(self
            .store
            .list(&prefix)
            .await?
            .iter()
            .filter_map(|o| o.key.strip_prefix(&prefix))
            .any(marks_domain))
    }

    /// Committed versions of `domain` (those with a valid MANIFEST), oldest first.
    /// A version with a corrupt manifest is skipped with a warning; a history that
    /// cannot be followed leaves every `rolled_back` false, with a warning.
    pub async fn versions(&self, domain: &str) -> Result<Vec<VersionSummary>> {
        validate_domain(domain)?;
        let committed = self.committed_ids(domain).await?;
        let current = self.current(domain).await?.map(|c| c.version);
        // A damaged history must not hide the versions an operator needs in an
        // incident: without it the marks are unknown, and the listing says so.
        let rolled_back = match self.lineage(domain).await.and_then(|l| l.rolled_back()) {
            Ok(marked) => marked,
            Err(e) if e.kind() == ErrorKind::Corrupt => {
                tracing::warn!(domain, error = %e, "history unreadable; rolled-back marks unknown");
                BTreeSet::new()
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::with_capacity(committed.len());
        for version in committed {
            match self.manifest(domain, &version).await {
                Ok(manifest) => out.push(VersionSummary {
                    is_current: current.as_deref() == Some(version.as_str()),
                    rolled_back: rolled_back.contains(&version),
                    manifest,
                }),
                Err(e) if e.kind() == ErrorKind::Corrupt => {
                    tracing::warn!(domain, version, error = %e, "skipping version with a corrupt manifest");
                }
                // Deleted (garbage-collected) between the listing and the read.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The manifest of a committed version; `NotFound` when it is not committed.
    pub async fn manifest(&self, domain: &str, version: &str) -> Result<Manifest> {
        validate_domain(domain)?;
        validate_version(version)?;
        let key = manifest_key(domain, version);
        let got = match self.store.get(&key).await {
            Ok(got) => got,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    key: format!(
                        "version {version} of domain {domain} ({key} is missing: never published, or the publish did not finish)"
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        let manifest = Manifest::from_json(&key, &got.bytes)?;
        if manifest.domain != domain || manifest.version != version {
            return Err(StoreError::CorruptDocument {
                key,
                detail: format!(
                    "manifest names domain {:?} version {:?}, but is stored under domain {domain:?} version {version:?}",
                    manifest.domain, manifest.version
                ),
            });
        }
        Ok(manifest)
    }

    /// The current pointer of `domain`, if any.
    pub async fn current(&self, domain: &str) -> Result<Option<Current>> {
        validate_domain(domain)?;
        Ok(self.read_current(domain).await?.map(|(current, _)| current))
    }

    /// `CURRENT` with its ETag, `None` when the domain has none.
    async fn read_current(&self, domain: &str) -> Result<Option<(Current, String)>> {
        let key = current_key(domain);
        match self.store.get(&key).await {
            Ok(got) => Ok(Some((parse_json(&key, &got.bytes)?, got.etag))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Conditional read of `CURRENT`: cheap when nothing changed since `etag`.
    /// While the domain has no `CURRENT` the answer is `Changed { current: None,
    /// etag: None }`.
    pub async fn poll_current(&self, domain: &str, etag: Option<&str>) -> Result<CurrentPoll> {
        validate_domain(domain)?;
        let key = current_key(domain);
        match self.store.get_if_changed(&key, etag).await {
            Ok(None) => Ok(CurrentPoll::Unchanged),
            Ok(Some(got)) => Ok(CurrentPoll::Changed {
                current: Some(parse_json(&key, &got.bytes)?),
                etag: Some(got.etag),
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(CurrentPoll::Changed {
                current: None,
                etag: None,
            }),
            Err(e) => Err(e),
        }
    }

    /// Every history record of `domain`, oldest first, including records of moves
    /// that never took effect ([`Catalog::lineage`] tells them apart).
    pub async fn history(&self, domain: &str) -> Result<Vec<HistoryRecord>> {
        validate_domain(domain)?;
        self.read_records(domain).await
    }

    async fn read_history_key(&self, key: &str) -> Result<HistoryRecord> {
        let got = self.store.get(key).await?;
        parse_json(key, &got.bytes)
    }

    /// Deletes old versions of `domain` and the debris of dead publishes, never the
    /// current version, the rollback target, a publish in progress (a live
    /// `PUBLISHING.json`) or anything younger than `options.grace`; see [`GcOptions`](crate::GcOptions) and `catalog/gc.rs` for
    /// the rules. With `dry_run` it only reports what it would delete.
    pub async fn gc(&self, domain: &str, options: &crate::GcOptions) -> Result<crate::GcReport> {
        gc::run(self, domain, options).await
    }

    /// Downloads shard `index` of `manifest` to `dest`, verified against the
    /// manifest's size and CRC32 before `dest` appears (temp file, fsync, rename),
    /// with the parallel ranges, limits and resume of `options` (see
    /// [`crate::download_verified`]).
    pub async fn download_shard(
        &self,
        manifest: &Manifest,
        index: u32,
        dest: &Path,
        options: &crate::DownloadOptions,
    ) -> Result<crate::DownloadReport> {
        let entry = manifest
            .shards
            .get(index as usize)
            .filter(|s| s.index == index)
            .ok_or_else(|| StoreError::Invalid {
                what: "shard index".to_string(),
                detail: format!(
                    "{index} is not a shard of {} version {} ({} shards)",
                    manifest.domain, manifest.version, manifest.shard_count
                ),
            })?;
        let key = shard_key(&manifest.domain, &manifest.version, &entry.object);
        let store = self.store.as_ref();
        crate::download_verified(store, &key, dest, entry.bytes, entry.crc32, options).await
    }
}

/// Whether an object at `rest` under a domain's prefix makes the domain exist: a
/// `CURRENT`, anything under `versions/`, or a write policy.
fn marks_domain(rest: &str) -> bool {
    rest == "CURRENT" || rest.starts_with("versions/") || rest.starts_with("policy/")
}

#[cfg(test)]
mod domain_rule_tests {
    use super::marks_domain;

    #[test]
    fn a_domain_is_what_has_versions_a_current_or_a_policy() {
        assert!(marks_domain("CURRENT"));
        assert!(marks_domain("versions/v/MANIFEST.json"));
        assert!(marks_domain("policy/1.json"));
        assert!(!marks_domain("history/1.json"));
        assert!(!marks_domain("CURRENT.tmp"));
    }
}
