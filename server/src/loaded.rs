//! A version open in memory: its manifest and the memory-mapped shards this node
//! holds, plus the set of versions a domain holds at once.

use std::fs::File;
use std::sync::Arc;

use memmap2::Mmap;
use tusk_format::Shard;
use tusk_format::partition::shard_for;
use tusk_store::Manifest;

use crate::error::{LoadError, ReadError};
use crate::local::DomainDir;

/// One version, open and verified. Dropping the last `Arc` unmaps its files.
pub struct LoadedVersion {
    manifest: Manifest,
    /// Indexed by shard number; `None` for shards this node does not hold.
    shards: Vec<Option<Shard<Mmap>>>,
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
    /// Opens the shards `owned` of `manifest` from `dir`: checks each file's size,
    /// memory-maps it, opens it and runs the full checksum pass
    /// ([`Shard::verify`]). Blocking and CPU-bound: call from `spawn_blocking`.
    pub fn open(
        dir: &DomainDir,
        manifest: Manifest,
        owned: &[u32],
    ) -> Result<LoadedVersion, LoadError> {
        let mut shards: Vec<Option<Shard<Mmap>>> = Vec::new();
        shards.resize_with(manifest.shard_count as usize, || None);
        for &index in owned {
            let entry =
                manifest
                    .shards
                    .get(index as usize)
                    .ok_or_else(|| LoadError::ManifestMismatch {
                        path: dir.version_dir(&manifest.version).display().to_string(),
                        detail: format!(
                            "owned shard {index} is not in the manifest ({} shards)",
                            manifest.shard_count
                        ),
                    })?;
            let path = dir.shard_path(&manifest.version, &entry.object);
            let file = File::open(&path).map_err(|e| LoadError::io(&path, e))?;
            let actual = file.metadata().map_err(|e| LoadError::io(&path, e))?.len();
            if actual != entry.bytes {
                return Err(LoadError::ShardSize {
                    version: manifest.version.clone(),
                    shard: index,
                    path: path.display().to_string(),
                    expected: entry.bytes,
                    actual,
                });
            }
            // SAFETY: shard files live in the server's private data dir, are written
            // once (temp file + rename) and never modified in place; old versions are
            // deleted by unlinking, which keeps existing mappings valid.
            let mmap = unsafe { Mmap::map(&file) }.map_err(|e| LoadError::io(&path, e))?;
            let shard_err = |source| LoadError::Shard {
                version: manifest.version.clone(),
                shard: index,
                path: path.display().to_string(),
                source,
            };
            let shard = Shard::open(mmap).map_err(shard_err)?;
            shard.verify().map_err(shard_err)?;
            shards[index as usize] = Some(shard);
        }
        Ok(LoadedVersion { manifest, shards })
    }

    /// The version id.
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The version's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
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
        shard.get(key).map_err(|source| ReadError::Corrupt {
            domain: self.manifest.domain.clone(),
            version: self.manifest.version.clone(),
            shard: index,
            object: self
                .manifest
                .shards
                .get(index as usize)
                .map(|s| s.object.clone())
                .unwrap_or_default(),
            source,
        })
    }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str) -> Arc<LoadedVersion> {
        let manifest = Manifest {
            format_version: tusk_store::MANIFEST_FORMAT_VERSION,
            domain: "d".into(),
            version: id.into(),
            shard_count: 2,
            partitioner: tusk_store::PartitionerSpec::default(),
            shard_format: tusk_format::SHARD_FORMAT_NAME.into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            records: 0,
            bytes: 0,
            writer: Default::default(),
            shards: Vec::new(),
        };
        Arc::new(LoadedVersion {
            manifest,
            shards: vec![None, None],
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
    fn a_key_of_a_shard_not_held_is_a_failed_precondition() {
        let v = version("v1");
        let err = v.get(b"k").expect_err("no shard held");
        assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    }
}
