//! A version open in memory: its manifest and the memory-mapped shards this node
//! holds, plus the set of versions a domain holds at once.

use std::sync::Arc;

use tusk_format::partition::shard_for;
use tusk_store::Manifest;

use crate::data_dir::DomainDir;
use crate::error::{LoadError, ReadError};
use crate::local_shard::{Checked, LocalShard};

/// One version, open and checked. Dropping the last `Arc` of a shard unmaps it.
pub struct LoadedVersion {
    manifest: Manifest,
    /// Indexed by shard number; `None` for shards this node does not hold. Shared
    /// with the versions built from this one by [`LoadedVersion::with_shard`].
    shards: Vec<Option<Arc<LocalShard>>>,
    /// Shards this node owns but has not got on disk yet (after a topology change):
    /// forwarded until a download fetches them.
    missing: Vec<u32>,
}

impl std::fmt::Debug for LoadedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedVersion")
            .field("domain", &self.manifest.domain)
            .field("version", &self.manifest.version)
            .field(
                "held_shards",
                &self.shards.iter().filter(|s| s.is_some()).count(),
            )
            .finish()
    }
}

impl LoadedVersion {
    /// Opens the shards `owned` of `manifest` from `dir`, each with
    /// [`LocalShard::open`] (size, record count, constant-time format checks; no
    /// checksum pass: `checked` says how the files' CRC32 was checked). Blocking:
    /// call from `spawn_blocking`.
    pub fn open(
        dir: &DomainDir,
        manifest: Manifest,
        owned: &[u32],
        checked: Checked,
    ) -> Result<LoadedVersion, LoadError> {
        let mut shards: Vec<Option<Arc<LocalShard>>> = Vec::new();
        shards.resize_with(manifest.shard_count as usize, || None);
        for &index in owned {
            let entry = manifest
                .shards
                .get(index as usize)
                .filter(|e| e.index == index)
                .ok_or_else(|| LoadError::ManifestMismatch {
                    path: dir.version_dir(&manifest.version).display().to_string(),
                    detail: format!(
                        "owned shard {index} is not in the manifest ({} shards)",
                        manifest.shard_count
                    ),
                })?;
            let path = dir.shard_path(&manifest.version, &entry.object);
            let shard = LocalShard::open(&manifest.version, &path, entry, checked)?;
            shards[index as usize] = Some(Arc::new(shard));
        }
        Ok(LoadedVersion {
            manifest,
            shards,
            missing: Vec::new(),
        })
    }

    /// Opens a complete local copy of `manifest` as [`LoadedVersion::open`] does,
    /// tolerating a topology change since it was downloaded: owned shards whose files
    /// are absent are listed in [`LoadedVersion::missing`] (to be downloaded), and
    /// shards no longer owned whose files are still there are opened too, so the
    /// node keeps answering for them until the download of the missing ones ends.
    pub fn open_local(
        dir: &DomainDir,
        manifest: Manifest,
        owned: &[u32],
    ) -> Result<LoadedVersion, LoadError> {
        let present = |index: u32| {
            manifest
                .shards
                .get(index as usize)
                .is_some_and(|e| dir.shard_path(&manifest.version, &e.object).is_file())
        };
        let (open, missing) = split_present(owned, manifest.shard_count, present);
        let mut loaded = LoadedVersion::open(dir, manifest, &open, Checked::Recorded)?;
        loaded.missing = missing;
        Ok(loaded)
    }

    /// Owned shards not on local disk yet (empty once the version is complete).
    pub fn missing(&self) -> &[u32] {
        &self.missing
    }

    /// The same version with shard `shard.entry().index` replaced by `shard` (a
    /// freshly downloaded copy); every other shard is shared, not reopened.
    pub fn with_shard(&self, shard: LocalShard) -> LoadedVersion {
        let mut shards = self.shards.clone();
        let index = shard.entry().index as usize;
        if let Some(slot) = shards.get_mut(index) {
            *slot = Some(Arc::new(shard));
        }
        LoadedVersion {
            manifest: self.manifest.clone(),
            shards,
            missing: self.missing.clone(),
        }
    }

    /// The version id.
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The version's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The shards this node holds, by number.
    pub fn held_shards(&self) -> impl Iterator<Item = &Arc<LocalShard>> {
        self.shards.iter().flatten()
    }

    /// Shard `index`, when held.
    pub fn shard(&self, index: u32) -> Option<&Arc<LocalShard>> {
        self.shards.get(index as usize).and_then(Option::as_ref)
    }

    /// Looks up `key`: `Ok(None)` when absent. Allocates nothing.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>, ReadError> {
        let index = shard_for(key, self.manifest.shard_count);
        let Some(Some(shard)) = self.shards.get(index as usize) else {
            return Err(ReadError::ShardNotHeld {
                domain: self.manifest.domain.clone(),
                version: self.manifest.version.clone(),
                shard: index,
            });
        };
        shard.shard().get(key).map_err(|source| ReadError::Corrupt {
            domain: self.manifest.domain.clone(),
            version: self.manifest.version.clone(),
            shard: index,
            object: shard.entry().object.clone(),
            source,
        })
    }
}

/// Which shards of a local copy to open, and which owned ones are missing: every
/// present shard (owned or not, ascending) and the owned shards not present.
pub fn split_present(
    owned: &[u32],
    shard_count: u32,
    present: impl Fn(u32) -> bool,
) -> (Vec<u32>, Vec<u32>) {
    let open = (0..shard_count).filter(|&i| present(i)).collect();
    let missing = owned.iter().copied().filter(|&i| !present(i)).collect();
    (open, missing)
}

/// The versions a domain holds in memory, newest swap first: `versions[0]` answers
/// requests without an explicit version; the others (the previously served ones)
/// answer requests that name them, so clients mid-rollout keep working.
#[derive(Debug, Clone)]
pub struct HeldVersions {
    versions: Vec<Arc<LoadedVersion>>,
}

impl HeldVersions {
    /// `current` first, then the versions of `previous` other than it, at most
    /// `limit` in all.
    pub fn swap_in(
        current: Arc<LoadedVersion>,
        previous: Option<&HeldVersions>,
        limit: usize,
    ) -> HeldVersions {
        let mut versions = vec![current];
        if let Some(prev) = previous {
            for v in &prev.versions {
                if versions.len() >= limit.max(1) {
                    break;
                }
                if v.version() != versions[0].version() {
                    versions.push(Arc::clone(v));
                }
            }
        }
        HeldVersions { versions }
    }

    /// The version answering requests without an explicit version.
    pub fn current(&self) -> &Arc<LoadedVersion> {
        &self.versions[0]
    }

    /// Every held version, current first.
    pub fn all(&self) -> &[Arc<LoadedVersion>] {
        &self.versions
    }

    /// The version named `version`, or the current one for `""`.
    pub fn select(&self, domain: &str, version: &str) -> Result<&LoadedVersion, ReadError> {
        if version.is_empty() {
            return Ok(self.current());
        }
        self.find(version)
            .map(|v| &**v)
            .ok_or_else(|| ReadError::VersionNotHeld {
                domain: domain.to_string(),
                version: version.to_string(),
                held: self.ids().join(", "),
            })
    }

    /// The held version named `version`.
    pub fn find(&self, version: &str) -> Option<&Arc<LoadedVersion>> {
        self.versions.iter().find(|v| v.version() == version)
    }

    /// Held version ids, current first.
    pub fn ids(&self) -> Vec<String> {
        self.versions
            .iter()
            .map(|v| v.version().to_string())
            .collect()
    }

    /// The same versions with the one named like `repaired` replaced by it, in
    /// its place; `None` when no held version has that id.
    pub fn replace(&self, repaired: Arc<LoadedVersion>) -> Option<HeldVersions> {
        let at = self
            .versions
            .iter()
            .position(|v| v.version() == repaired.version())?;
        let mut versions = self.versions.clone();
        versions[at] = repaired;
        Some(HeldVersions { versions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str) -> Arc<LoadedVersion> {
        let mut manifest = Manifest::new("d", id, "2026-01-01T00:00:00Z", Vec::new());
        manifest.shard_count = 2;
        Arc::new(LoadedVersion {
            manifest,
            shards: vec![None, None],
            missing: Vec::new(),
        })
    }

    #[test]
    fn swap_in_keeps_current_first_and_respects_the_limit() {
        let one = HeldVersions::swap_in(version("v1"), None, 2);
        assert_eq!(one.ids(), ["v1"]);
        let two = HeldVersions::swap_in(version("v2"), Some(&one), 2);
        assert_eq!(two.ids(), ["v2", "v1"]);
        let three = HeldVersions::swap_in(version("v3"), Some(&two), 2);
        assert_eq!(three.ids(), ["v3", "v2"]);
        // Swapping back to a held version moves it to the front without duplicates.
        let back =
            HeldVersions::swap_in(Arc::clone(three.find("v2").expect("held")), Some(&three), 2);
        assert_eq!(back.ids(), ["v2", "v3"]);
        let single = HeldVersions::swap_in(version("v4"), Some(&back), 1);
        assert_eq!(single.ids(), ["v4"]);
    }

    #[test]
    fn replace_keeps_the_order_and_needs_a_held_version() {
        let held = HeldVersions::swap_in(
            version("v2"),
            Some(&HeldVersions::swap_in(version("v1"), None, 2)),
            2,
        );
        let fresh = version("v1");
        let replaced = held.replace(Arc::clone(&fresh)).expect("v1 is held");
        assert_eq!(replaced.ids(), ["v2", "v1"]);
        assert!(Arc::ptr_eq(replaced.find("v1").expect("held"), &fresh));
        assert!(held.replace(version("v9")).is_none());
    }

    #[test]
    fn select_names_the_held_versions_when_missing() {
        let held = HeldVersions::swap_in(
            version("v2"),
            Some(&HeldVersions::swap_in(version("v1"), None, 2)),
            2,
        );
        assert_eq!(held.select("d", "").expect("current").version(), "v2");
        assert_eq!(held.select("d", "v1").expect("previous").version(), "v1");
        let err = held.select("d", "v0").expect_err("not held");
        assert!(err.to_string().contains("holds v2, v1"), "{err}");
    }

    #[test]
    fn a_changed_topology_opens_what_is_there_and_lists_what_is_missing() {
        // Owned now: 1, 2, 5. On disk (owned under the old topology): 0, 1, 2.
        let on_disk = [0u32, 1, 2];
        let (open, missing) = split_present(&[1, 2, 5], 6, |i| on_disk.contains(&i));
        assert_eq!(
            open,
            [0, 1, 2],
            "shards no longer owned keep answering meanwhile"
        );
        assert_eq!(missing, [5]);
        let (open, missing) = split_present(&[1, 2], 6, |i| on_disk.contains(&i));
        assert_eq!((open.len(), missing.len()), (3, 0));
    }

    #[test]
    fn a_key_of_a_shard_not_held_is_a_failed_precondition() {
        let v = version("v1");
        let err = v.get(b"k").expect_err("no shard held");
        assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    }
}
