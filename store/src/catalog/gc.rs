//! Garbage collection of old versions: [`Catalog::gc`](super::Catalog::gc).
//!
//! One pass over `<domain>/versions/` plans a decision for every version directory,
//! then (unless it is a dry run) deletes what the plan says, oldest first.
//!
//! A committed version is deleted only when it is none of these (first match is the
//! reason reported):
//! 1. the version `CURRENT` names;
//! 2. the rollback target: where a `tusk rollback` without `--to` would go
//!    (`catalog/lineage.rs::rollback_target`, the same rule rollback follows);
//! 3. a version that was current at any moment of the last `grace` (a server polling
//!    slowly may still be downloading it);
//! 4. one of the newest `keep` committed versions (by version id, the order of
//!    [`Catalog::versions`](super::Catalog::versions));
//! 5. a directory with a live publish marker (see below);
//! 6. younger than `grace`, where its age counts from the latest of its manifest's
//!    `created_at` and the newest `last_modified` of its objects (the safer of both);
//!    a version whose age cannot be told at all is kept.
//!
//! A publish announces itself with `PUBLISHING.json` in its version directory before
//! it uploads anything, and renews it as a lease (`catalog/lease.rs`). A marker is
//! live while its `last_modified` is younger than the lease it declares plus `grace`;
//! gc never touches a directory with a live marker. A version directory without
//! `MANIFEST.json` and without a live marker is debris of a publish that died: it is
//! deleted once its newest object (the marker included) is older than `grace`. A
//! version whose manifest is unreadable is kept for an operator to look at.
//!
//! Ages come from the store's own clock (`last_modified` is the time of the upload on
//! every backend, never a file's build time), compared with `now`: gc's clock and the
//! store's must agree to well within `grace` plus the lease.
//!
//! Deleting a committed version removes `MANIFEST.json` first, so the version
//! disappears from listings at once; then the marker, if any; then the shards. A gc
//! stopped in between leaves plain debris for the next gc. Before each version,
//! `CURRENT` is read again: if it moved since the plan, gc stops with a `Conflict`
//! and deletes nothing more. Right before deleting a debris directory gc lists it and
//! reads its marker again and decides afresh: a marker renewed (or a manifest written)
//! since the plan keeps it. The marker goes first, so a writer that is somehow still
//! alive fails its check before writing `MANIFEST.json` instead of committing a
//! version with missing shards.
//!
//! Limits: a writer stalled for longer than its lease plus `grace` after its last
//! check and before `MANIFEST.json` lands can still commit over deleted shards
//! (downloads and `verify` refuse such a version); the local store leaves empty
//! directories behind.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::Catalog;
use super::bounded::run_bounded;
use super::lease::{DEFAULT_PUBLISH_LEASE, parse_marker};
use super::lineage;
use crate::keys::{
    current_key, manifest_key, publish_marker_key, validate_domain, validate_version,
    version_prefix, versions_prefix,
};
use crate::version_id::rfc3339;
use crate::{Current, ErrorKind, ObjectMeta, ObjectStore, Result, StoreError};

/// Grace period used when none is given: one hour.
pub const DEFAULT_GC_GRACE: Duration = Duration::from_secs(3600);

/// Objects deleted at the same time.
const DELETE_CONCURRENCY: usize = 8;

/// What [`Catalog::gc`](super::Catalog::gc) may delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Committed versions to keep, newest first (at least 1). The current version and
    /// the rollback target are kept in addition when they are older.
    pub keep: usize,
    /// Nothing younger than this is deleted, committed or not.
    pub grace: Duration,
    /// Plan and report only; delete nothing.
    pub dry_run: bool,
    /// The clock: ages are measured up to this instant.
    pub now: SystemTime,
}

impl GcOptions {
    /// Keep `keep` versions, [`DEFAULT_GC_GRACE`], for real, as of now.
    pub fn new(keep: usize) -> Self {
        GcOptions {
            keep,
            grace: DEFAULT_GC_GRACE,
            dry_run: false,
            now: SystemTime::now(),
        }
    }
}

/// Whether a version directory holds a committed version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcKind {
    /// Has a `MANIFEST.json`.
    Committed,
    /// Objects without a `MANIFEST.json`: a dead (or still running) publish.
    Debris,
}

/// Why a version is kept or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcReason {
    /// Kept: `CURRENT` names it.
    Current,
    /// Kept: a rollback without `--to` would go to it.
    RollbackTarget,
    /// Kept: it was current within the grace period.
    RecentlyCurrent,
    /// Kept: one of the newest `keep` committed versions.
    WithinKeep,
    /// Kept: a publish in progress announced itself there (its marker is live), or
    /// committed it since gc's plan.
    Publishing,
    /// Kept: younger than the grace period.
    YoungerThanGrace,
    /// Kept: the store gives no time for it, so its age is unknown.
    AgeUnknown,
    /// Kept: its `MANIFEST.json` cannot be read; left for an operator.
    CorruptManifest,
    /// Deleted: an old committed version beyond the ones kept.
    Expired,
    /// Deleted: old objects of a publish that never committed.
    Debris,
}

impl GcReason {
    /// True for the reasons that delete.
    pub fn deletes(self) -> bool {
        matches!(self, GcReason::Expired | GcReason::Debris)
    }
}

/// The decision for one version directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcEntry {
    /// Version id (the directory name under `versions/`).
    pub version: String,
    /// Committed or debris.
    pub kind: GcKind,
    /// True when gc deletes it (or would, in a dry run).
    pub delete: bool,
    /// Why.
    pub reason: GcReason,
    /// Objects in the directory.
    pub objects: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// The manifest's `created_at`, for a committed version.
    pub created_at: Option<String>,
    /// `last_modified` of the newest object, RFC 3339, when the store knows it.
    pub newest_object: Option<String>,
    /// `last_modified` of the publish marker, RFC 3339, when there is one.
    pub marker_renewed_at: Option<String>,
}

/// What a gc did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// The domain.
    pub domain: String,
    /// True when nothing was deleted on purpose.
    pub dry_run: bool,
    /// The version `CURRENT` named, if any.
    pub current: Option<String>,
    /// The rollback target, if any.
    pub rollback_target: Option<String>,
    /// Every version directory, in version id order.
    pub entries: Vec<GcEntry>,
    /// Objects deleted (or that would be).
    pub objects_freed: u64,
    /// Bytes deleted (or that would be).
    pub bytes_freed: u64,
}

impl GcReport {
    /// The entries that are (or would be) deleted.
    pub fn deleted(&self) -> impl Iterator<Item = &GcEntry> {
        self.entries.iter().filter(|e| e.delete)
    }

    /// The entries that are kept.
    pub fn kept(&self) -> impl Iterator<Item = &GcEntry> {
        self.entries.iter().filter(|e| !e.delete)
    }
}

/// Which versions the pointer protects.
struct Pointer {
    current: Option<Current>,
    rollback_target: Option<String>,
    recently_current: BTreeSet<String>,
}

/// One version directory as listed, with its manifest state.
struct Dir {
    version: String,
    objects: Vec<ObjectMeta>,
    state: DirState,
    marker: Option<Marker>,
}

/// A publish marker as gc sees it.
struct Marker {
    /// The store's `last_modified` of the marker: its last renewal.
    renewed: Option<SystemTime>,
    /// The lease it declares.
    lease: Duration,
}

enum DirState {
    Committed { created_at: String },
    Corrupt,
    Debris,
}

/// Runs a gc of `domain`; see the module docs.
pub(super) async fn run(catalog: &Catalog, domain: &str, options: &GcOptions) -> Result<GcReport> {
    validate_domain(domain)?;
    if options.keep == 0 {
        return Err(StoreError::Invalid {
            what: "gc keep".to_string(),
            detail: "keep must be at least 1 (the newest version is always kept)".to_string(),
        });
    }
    let pointer = read_pointer(catalog, domain, options).await?;
    let dirs = list_dirs(catalog, domain).await?;
    let mut entries = plan(&dirs, &pointer, options);

    if !options.dry_run {
        let seq = pointer.current.as_ref().map(|c| c.seq);
        for i in 0..dirs.len() {
            if !entries[i].delete {
                continue;
            }
            check_pointer_unmoved(catalog, domain, seq).await?;
            let fresh = if matches!(dirs[i].state, DirState::Debris) {
                let Some((dir, again)) =
                    recheck_debris(catalog, domain, &dirs[i].version, &pointer, options).await?
                else {
                    // Already gone (another gc).
                    continue;
                };
                entries[i] = again;
                if !entries[i].delete {
                    tracing::info!(domain, version = %entries[i].version, reason = ?entries[i].reason, "gc keeps a directory that changed since its plan");
                    continue;
                }
                Some(dir)
            } else {
                None
            };
            delete_dir(catalog.store(), domain, fresh.as_ref().unwrap_or(&dirs[i])).await?;
            let entry = &entries[i];
            tracing::info!(domain, version = %entry.version, reason = ?entry.reason, objects = entry.objects, "gc deleted version");
        }
    }
    Ok(GcReport {
        domain: domain.to_string(),
        dry_run: options.dry_run,
        current: pointer.current.as_ref().map(|c| c.version.clone()),
        rollback_target: pointer.rollback_target.clone(),
        objects_freed: entries.iter().filter(|e| e.delete).map(|e| e.objects).sum(),
        bytes_freed: entries.iter().filter(|e| e.delete).map(|e| e.bytes).sum(),
        entries,
    })
}

/// Lists a debris directory again and decides afresh, right before deleting it: a
/// marker renewed since the plan keeps it, and so does a manifest written since.
/// `None` when the directory is gone.
async fn recheck_debris(
    catalog: &Catalog,
    domain: &str,
    version: &str,
    pointer: &Pointer,
    options: &GcOptions,
) -> Result<Option<(Dir, GcEntry)>> {
    let objects = catalog
        .store()
        .list(&version_prefix(domain, version))
        .await?;
    if objects.is_empty() {
        return Ok(None);
    }
    let Some(dir) = read_dir(catalog, domain, version.to_string(), objects).await? else {
        return Ok(None);
    };
    let mut entry = decide(&dir, pointer, &BTreeSet::new(), options);
    if !matches!(dir.state, DirState::Debris) {
        // Committed since the plan: the publish finished; it is not debris.
        entry.reason = GcReason::Publishing;
        entry.delete = false;
    }
    Ok(Some((dir, entry)))
}

/// Reads `CURRENT`, the record that set it, and the records of the grace period.
async fn read_pointer(catalog: &Catalog, domain: &str, options: &GcOptions) -> Result<Pointer> {
    let lineage = catalog.lineage(domain).await?;
    let Some(current) = lineage.current().cloned() else {
        return Ok(Pointer {
            current: None,
            rollback_target: None,
            recently_current: BTreeSet::new(),
        });
    };
    let chain = lineage.chain()?;
    let committed: BTreeSet<String> = catalog.committed_ids(domain).await?.into_iter().collect();
    Ok(Pointer {
        rollback_target: lineage::rollback_target(&chain, &committed, &current.version),
        recently_current: lineage::current_since(&chain, options.now.checked_sub(options.grace)),
        current: Some(current),
    })
}

/// Lists `<domain>/versions/` grouped by version directory, in id order, with the
/// state of each manifest.
async fn list_dirs(catalog: &Catalog, domain: &str) -> Result<Vec<Dir>> {
    let prefix = versions_prefix(domain);
    let mut groups: BTreeMap<String, Vec<ObjectMeta>> = BTreeMap::new();
    for object in catalog.store().list(&prefix).await? {
        let rest = &object.key[prefix.len()..];
        match rest.split_once('/') {
            Some((version, _)) if validate_version(version).is_ok() => {
                groups.entry(version.to_string()).or_default().push(object);
            }
            _ => {
                tracing::warn!(domain, key = %object.key, "gc leaves an object that is not in a version directory")
            }
        }
    }
    let mut dirs = Vec::with_capacity(groups.len());
    for (version, objects) in groups {
        if let Some(dir) = read_dir(catalog, domain, version, objects).await? {
            dirs.push(dir);
        }
    }
    Ok(dirs)
}

/// One listed version directory with its manifest state and marker read; `None` when
/// its manifest was deleted since the listing (another gc).
async fn read_dir(
    catalog: &Catalog,
    domain: &str,
    version: String,
    mut objects: Vec<ObjectMeta>,
) -> Result<Option<Dir>> {
    let mkey = manifest_key(domain, &version);
    let state = if !objects.iter().any(|o| o.key == mkey) {
        DirState::Debris
    } else {
        match catalog.manifest(domain, &version).await {
            Ok(m) => DirState::Committed {
                created_at: m.created_at,
            },
            Err(e) if e.kind() == ErrorKind::Corrupt => DirState::Corrupt,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let marker_key = publish_marker_key(domain, &version);
    let mut marker = None;
    if let Some(listed) = objects.iter().find(|o| o.key == marker_key) {
        let renewed = listed.last_modified;
        match catalog.store().get(&marker_key).await {
            Ok(got) => {
                let lease = match parse_marker(&marker_key, &got.bytes) {
                    Ok(m) => m.lease(),
                    Err(e) => {
                        tracing::warn!(domain, version, error = %e, "unreadable publish marker; assuming the default lease");
                        DEFAULT_PUBLISH_LEASE
                    }
                };
                marker = Some(Marker { renewed, lease });
            }
            // Deleted since the listing: the publish finished or another gc took it.
            Err(e) if e.kind() == ErrorKind::NotFound => objects.retain(|o| o.key != marker_key),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(Dir {
        version,
        objects,
        state,
        marker,
    }))
}

/// Decides every directory; pure, so the rules are testable on their own.
fn plan(dirs: &[Dir], pointer: &Pointer, options: &GcOptions) -> Vec<GcEntry> {
    let committed: Vec<&str> = dirs
        .iter()
        .filter(|d| matches!(d.state, DirState::Committed { .. }))
        .map(|d| d.version.as_str())
        .collect();
    let within_keep: BTreeSet<&str> = committed.iter().rev().take(options.keep).copied().collect();
    dirs.iter()
        .map(|dir| decide(dir, pointer, &within_keep, options))
        .collect()
}

/// Decides one directory, given the newest `keep` committed versions; pure.
fn decide(
    dir: &Dir,
    pointer: &Pointer,
    within_keep: &BTreeSet<&str>,
    options: &GcOptions,
) -> GcEntry {
    let current = pointer.current.as_ref().map(|c| c.version.as_str());
    let v = dir.version.as_str();
    let newest_object = newest_modified(&dir.objects);
    let (kind, created_at) = match &dir.state {
        DirState::Committed { created_at } => (GcKind::Committed, Some(created_at.clone())),
        DirState::Corrupt => (GcKind::Committed, None),
        DirState::Debris => (GcKind::Debris, None),
    };
    let reason = if current == Some(v) {
        GcReason::Current
    } else if pointer.rollback_target.as_deref() == Some(v) {
        GcReason::RollbackTarget
    } else if pointer.recently_current.contains(v) {
        GcReason::RecentlyCurrent
    } else if within_keep.contains(v) {
        GcReason::WithinKeep
    } else if dir
        .marker
        .as_ref()
        .is_some_and(|m| marker_is_live(m, options))
    {
        GcReason::Publishing
    } else if matches!(dir.state, DirState::Corrupt) {
        GcReason::CorruptManifest
    } else {
        let created = created_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
        // A missing time on any object makes "newest" unknowable.
        let objects_time =
            newest_object.filter(|_| dir.objects.iter().all(|o| o.last_modified.is_some()));
        let newest = match (created, objects_time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        match newest {
            None => GcReason::AgeUnknown,
            Some(t) if !older_than(t, options.grace, options.now) => GcReason::YoungerThanGrace,
            Some(_) if kind == GcKind::Debris => GcReason::Debris,
            Some(_) => GcReason::Expired,
        }
    };
    GcEntry {
        version: dir.version.clone(),
        kind,
        delete: reason.deletes(),
        reason,
        objects: dir.objects.len() as u64,
        bytes: dir.objects.iter().map(|o| o.size).sum(),
        created_at,
        newest_object: newest_object.map(rfc3339),
        marker_renewed_at: dir.marker.as_ref().and_then(|m| m.renewed).map(rfc3339),
    }
}

/// A marker is live until its lease plus the grace period has passed since its last
/// renewal; one whose time the store does not give, or that is newer than `now`, is
/// live.
fn marker_is_live(marker: &Marker, options: &GcOptions) -> bool {
    match marker.renewed {
        None => true,
        Some(t) => !older_than(t, marker.lease.saturating_add(options.grace), options.now),
    }
}

/// Whether `t` lies at least `age` before `now` (false when `t` is after `now`).
fn older_than(t: SystemTime, age: Duration, now: SystemTime) -> bool {
    now.duration_since(t).is_ok_and(|elapsed| elapsed >= age)
}

fn newest_modified(objects: &[ObjectMeta]) -> Option<SystemTime> {
    objects.iter().filter_map(|o| o.last_modified).max()
}

/// Fails with `Conflict` when `CURRENT` is no longer at `seq`.
async fn check_pointer_unmoved(catalog: &Catalog, domain: &str, seq: Option<u64>) -> Result<()> {
    let now = catalog.read_current(domain).await?.map(|(c, _)| c.seq);
    if now == seq {
        return Ok(());
    }
    let show = |s: Option<u64>| s.map_or_else(|| "none".to_string(), |s| s.to_string());
    Err(StoreError::Conflict {
        key: current_key(domain),
        detail: format!(
            "CURRENT moved during gc (seq {} -> {}); gc stopped, run it again",
            show(seq),
            show(now)
        ),
    })
}

/// Deletes one version directory: `MANIFEST.json` first (the version vanishes), then
/// the publish marker (a writer still alive fails its check), then the other objects.
async fn delete_dir(store: &Arc<dyn ObjectStore>, domain: &str, dir: &Dir) -> Result<()> {
    let mkey = manifest_key(domain, &dir.version);
    let marker = publish_marker_key(domain, &dir.version);
    for first in [&mkey, &marker] {
        if dir.objects.iter().any(|o| &o.key == first) {
            store.delete(first).await?;
        }
    }
    // Owned keys: a future holding borrowing iterator closures across an await is not
    // provably `Send`, so gc could not run in a spawned task.
    let rest: Vec<String> = dir
        .objects
        .iter()
        .filter(|o| o.key != mkey && o.key != marker)
        .map(|o| o.key.clone())
        .collect();
    let deletes = rest.into_iter().map(|key| {
        let store = Arc::clone(store);
        async move { store.delete(&key).await }
    });
    run_bounded(deletes, DELETE_CONCURRENCY, "gc delete").await
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn t(hours: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + HOUR * hours
    }

    fn dir(version: &str, state: DirState, modified: Option<SystemTime>) -> Dir {
        let objects = vec![ObjectMeta {
            key: format!("d/versions/{version}/shard-00000.tsk"),
            size: 10,
            etag: "e".to_string(),
            last_modified: modified,
        }];
        Dir {
            version: version.to_string(),
            objects,
            state,
            marker: None,
        }
    }

    /// `dir` plus a publish marker renewed at `renewed` with a `lease`, listed as an
    /// object too.
    fn with_marker(mut d: Dir, renewed: Option<SystemTime>, lease: Duration) -> Dir {
        d.objects.push(ObjectMeta {
            key: format!("d/versions/{}/PUBLISHING.json", d.version),
            size: 200,
            etag: "m".to_string(),
            last_modified: renewed,
        });
        d.marker = Some(Marker { renewed, lease });
        d
    }

    fn no_pointer() -> Pointer {
        Pointer {
            current: None,
            rollback_target: None,
            recently_current: BTreeSet::new(),
        }
    }

    fn committed(hours: u32) -> DirState {
        DirState::Committed {
            created_at: rfc3339(t(hours)),
        }
    }

    fn reasons(entries: &[GcEntry]) -> Vec<(&str, GcReason)> {
        entries
            .iter()
            .map(|e| (e.version.as_str(), e.reason))
            .collect()
    }

    #[test]
    fn rules_apply_in_order() {
        let dirs = vec![
            dir("v1", committed(0), Some(t(0))),
            dir("v2", committed(0), Some(t(0))),
            dir("v3", committed(0), Some(t(0))),
            // Old manifest time, but an object written recently: the newer counts.
            dir("v4", committed(0), Some(t(99))),
            dir("v5", DirState::Corrupt, Some(t(0))),
            dir("v6", committed(0), Some(t(0))),
            dir("v7", DirState::Debris, Some(t(0))),
            dir("v8", DirState::Debris, Some(t(99))),
            dir("v9", DirState::Debris, None),
            dir("w1", committed(0), None),
        ];
        let pointer = Pointer {
            current: Some(Current {
                version: "v1".to_string(),
                seq: 3,
                updated_at: rfc3339(t(0)),
                actor: "a".to_string(),
                reason: "r".to_string(),
            }),
            rollback_target: Some("v2".to_string()),
            recently_current: BTreeSet::from(["v1".to_string(), "v3".to_string()]),
        };
        let options = GcOptions {
            keep: 1,
            grace: 2 * HOUR,
            dry_run: false,
            now: t(100),
        };
        let entries = plan(&dirs, &pointer, &options);
        assert_eq!(
            reasons(&entries),
            [
                ("v1", GcReason::Current),
                ("v2", GcReason::RollbackTarget),
                ("v3", GcReason::RecentlyCurrent),
                ("v4", GcReason::YoungerThanGrace),
                ("v5", GcReason::CorruptManifest),
                ("v6", GcReason::Expired),
                ("v7", GcReason::Debris),
                ("v8", GcReason::YoungerThanGrace),
                ("v9", GcReason::AgeUnknown),
                // Newest committed id: within keep although its objects have no time.
                ("w1", GcReason::WithinKeep),
            ]
        );
        let deleted: Vec<&str> = entries
            .iter()
            .filter(|e| e.delete)
            .map(|e| e.version.as_str())
            .collect();
        assert_eq!(deleted, ["v6", "v7"]);
        assert_eq!(
            entries[0].created_at.as_deref(),
            Some("2027-01-15T08:00:00Z")
        );
        assert_eq!(entries[6].kind, GcKind::Debris);
    }

    #[test]
    fn a_clock_behind_the_objects_keeps_them() {
        let dirs = vec![
            dir("v1", committed(10), Some(t(10))),
            dir("v2", committed(10), Some(t(10))),
        ];
        let pointer = Pointer {
            current: None,
            rollback_target: None,
            recently_current: BTreeSet::new(),
        };
        let options = GcOptions {
            keep: 1,
            grace: Duration::ZERO,
            dry_run: true,
            now: t(5),
        };
        let entries = plan(&dirs, &pointer, &options);
        assert_eq!(
            reasons(&entries),
            [
                ("v1", GcReason::YoungerThanGrace),
                ("v2", GcReason::WithinKeep)
            ]
        );
    }

    #[test]
    fn a_live_marker_keeps_even_old_objects() {
        let minute = Duration::from_secs(60);
        let options = GcOptions {
            keep: 1,
            grace: Duration::ZERO,
            dry_run: false,
            now: t(100),
        };
        let dirs = vec![
            // Shards built (and uploaded) long ago, marker renewed 30 s ago.
            with_marker(
                dir("p1", DirState::Debris, Some(t(0))),
                Some(t(100) - minute / 2),
                minute,
            ),
            // Renewed "after" gc's now (clocks apart): live.
            with_marker(
                dir("p2", DirState::Debris, Some(t(0))),
                Some(t(101)),
                minute,
            ),
            // The store gives no time for the marker: live.
            with_marker(dir("p3", DirState::Debris, Some(t(0))), None, minute),
            // A long lease outlives old objects.
            with_marker(
                dir("p4", DirState::Debris, Some(t(0))),
                Some(t(50)),
                60 * HOUR,
            ),
            // An old committed version whose writer is still finishing.
            with_marker(dir("p5", committed(0), Some(t(0))), Some(t(100)), minute),
            dir("v9", committed(0), Some(t(0))),
        ];
        let entries = plan(&dirs, &no_pointer(), &options);
        assert_eq!(
            reasons(&entries),
            [
                ("p1", GcReason::Publishing),
                ("p2", GcReason::Publishing),
                ("p3", GcReason::Publishing),
                ("p4", GcReason::Publishing),
                ("p5", GcReason::Publishing),
                ("v9", GcReason::WithinKeep),
            ]
        );
        assert!(entries.iter().all(|e| !e.delete));
        assert_eq!(
            entries[0].marker_renewed_at.as_deref(),
            Some(rfc3339(t(100) - minute / 2).as_str())
        );
        assert_eq!(entries[2].marker_renewed_at, None);
    }

    #[test]
    fn a_stale_marker_makes_debris() {
        let minute = Duration::from_secs(60);
        let options = GcOptions {
            keep: 1,
            grace: 2 * minute,
            dry_run: false,
            now: t(100),
        };
        let dirs = vec![
            // Renewed exactly lease + grace ago: stale.
            with_marker(
                dir("s1", DirState::Debris, Some(t(99))),
                Some(t(100) - 3 * minute),
                minute,
            ),
            // Renewed just inside lease + grace: live, though older than the grace.
            with_marker(
                dir("s2", DirState::Debris, Some(t(99))),
                Some(t(100) - 3 * minute + Duration::from_secs(1)),
                minute,
            ),
            // Stale marker, but a shard younger than the grace: kept by age.
            with_marker(
                dir("s3", DirState::Debris, Some(t(100) - minute)),
                Some(t(90)),
                minute,
            ),
            // Stale marker in an expired committed version: deleted with it.
            with_marker(dir("s4", committed(0), Some(t(0))), Some(t(0)), minute),
            dir("v9", committed(0), Some(t(0))),
        ];
        let entries = plan(&dirs, &no_pointer(), &options);
        assert_eq!(
            reasons(&entries),
            [
                ("s1", GcReason::Debris),
                ("s2", GcReason::Publishing),
                ("s3", GcReason::YoungerThanGrace),
                ("s4", GcReason::Expired),
                ("v9", GcReason::WithinKeep),
            ]
        );
        // The marker counts as one of the directory's objects.
        assert_eq!(entries[0].objects, 2);
        assert_eq!(entries[0].bytes, 210);
    }

    #[test]
    fn without_a_marker_debris_goes_by_upload_time() {
        let options = GcOptions {
            keep: 1,
            grace: HOUR,
            dry_run: false,
            now: t(100),
        };
        let dirs = vec![
            dir("d1", DirState::Debris, Some(t(98))),
            dir("d2", DirState::Debris, Some(t(100) - HOUR / 2)),
            dir("d3", DirState::Debris, None),
        ];
        let entries = plan(&dirs, &no_pointer(), &options);
        assert_eq!(
            reasons(&entries),
            [
                ("d1", GcReason::Debris),
                ("d2", GcReason::YoungerThanGrace),
                ("d3", GcReason::AgeUnknown),
            ]
        );
        assert!(entries.iter().all(|e| e.marker_renewed_at.is_none()));
    }
}
