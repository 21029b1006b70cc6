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
