//! A version open in memory: its manifest and the memory-mapped shards this node
//! holds, plus the set of versions a domain holds at once.

use std::sync::Arc;

use bytes::Bytes;
use tusk_format::partition::shard_for;
use tusk_format::{Probe, ShardFormat};
use tusk_proto::VersionId;
use tusk_store::{Manifest, ShardEntry};

use crate::data_dir::DomainDir;
use crate::error::{LoadError, ReadError};
use crate::local_shard::{Checked, LocalShard, Warm};
use crate::stamp::Stamps;

/// One version, open and checked. Dropping the last `Arc` of a shard unmaps it.
pub struct LoadedVersion {
    manifest: Manifest,
    /// `manifest.version`, made once and shared by every response it answers.
    id: VersionId,
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
    /// [`LocalShard::open`] (size, record count, constant-time format checks),
    /// `checked(entry)` saying how each file's bytes were checked, and its index
    /// warmed as `warm` says. Blocking: call from `spawn_blocking`.
    pub fn open(
        dir: &DomainDir,
        manifest: Manifest,
        owned: &[u32],
        checked: impl Fn(&ShardEntry) -> Checked,
        warm: Warm,
    ) -> Result<LoadedVersion, LoadError> {
        let format = manifest_format(dir, &manifest)?;
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
            let shard = LocalShard::open(
                &manifest.version,
                &path,
                entry,
                format,
                checked(entry),
                warm,
            )?;
            shards[index as usize] = Some(Arc::new(shard));
        }
        Ok(LoadedVersion::from_parts(manifest, shards, Vec::new()))
    }

    fn from_parts(
        manifest: Manifest,
        shards: Vec<Option<Arc<LocalShard>>>,
        missing: Vec<u32>,
    ) -> LoadedVersion {
        LoadedVersion {
            id: VersionId::from(&manifest.version),
            manifest,
            shards,
            missing,
        }
    }

    /// Opens a complete local copy of `manifest` with [`LoadedVersion::open`],
    /// trusting each file that still matches the stamp its check left
    /// ([`crate::stamp`]) and checking the others in full, and
    /// tolerating a topology change since it was downloaded: owned shards whose files
    /// are absent are listed in [`LoadedVersion::missing`] (to be downloaded), and
    /// shards no longer owned whose files are still there are opened too, so the
    /// node keeps answering for them until the download of the missing ones ends.
    pub fn open_local(
        dir: &DomainDir,
        manifest: Manifest,
        owned: &[u32],
        warm: Warm,
    ) -> Result<LoadedVersion, LoadError> {
        let present = |index: u32| {
            manifest
                .shards
                .get(index as usize)
                .is_some_and(|e| dir.shard_path(&manifest.version, &e.object).is_file())
        };
        let (open, missing) = split_present(owned, manifest.shard_count, present);
        let stamps = dir.read_stamps(&manifest.version);
        let checked = |entry: &ShardEntry| Checked::Recorded(stamps.get(&entry.object).copied());
        let mut loaded = LoadedVersion::open(dir, manifest, &open, checked, warm)?;
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
            id: self.id.clone(),
            shards,
            missing: self.missing.clone(),
        }
    }

    /// The stamps of the held shard files as they are now, by object name: the
    /// record a restart trusts ([`crate::stamp`]).
    pub fn stamps(&self) -> Result<Stamps, LoadError> {
        self.held_shards()
            .map(|s| {
                let stamp = s.stamp().map_err(|e| LoadError::io(s.path(), e))?;
                Ok((s.entry().object.clone(), stamp))
            })
            .collect()
    }

    /// Pages in the hash index of every held shard ([`LocalShard::touch_index`]):
    /// the warm-up of a version opened with [`Warm::Ahead`]. Blocking; returns
    /// the bytes of index gone over.
    pub fn touch_indexes(&self) -> usize {
        self.held_shards().map(|s| s.touch_index()).sum()
    }

    /// The version id.
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The version id as responses carry it: cloning it shares, never copies.
    pub fn version_id(&self) -> &VersionId {
        &self.id
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

    /// Looks up `key`: `Ok(None)` when absent. The value shares the shard's map
    /// (no copy, no allocation).
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, ReadError> {
        let index = shard_for(key, self.manifest.shard_count);
        let shard = self.held(index)?;
        self.read(shard, key, Probe::new(key))
    }

    /// Looks up every key of `keys`, answering `each(i, result)` in order. The
    /// memory accesses of the keys overlap: first every key's index bucket is
    /// requested from memory, then (with the buckets arrived) the records they
    /// point at, and only then is each key looked up, so the batch waits for
    /// memory about once instead of once or twice per key. Keys of shards this
    /// node does not hold answer [`ReadError::ShardNotHeld`].
    pub fn get_many<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        mut each: impl FnMut(usize, Result<Option<Bytes>, ReadError>),
    ) {
        let plan: Vec<(u32, Probe)> = keys
            .iter()
            .map(|k| {
                let k = k.as_ref();
                (shard_for(k, self.manifest.shard_count), Probe::new(k))
            })
            .collect();
        for &(index, probe) in &plan {
            if let Some(shard) = self.shard(index) {
                shard.shard().prefetch_bucket(probe);
            }
        }
        for &(index, probe) in &plan {
            if let Some(shard) = self.shard(index) {
                shard.shard().prefetch_records(probe);
            }
        }
        for (i, (key, &(index, probe))) in keys.iter().zip(&plan).enumerate() {
            let result = self
                .held(index)
                .and_then(|shard| self.read(shard, key.as_ref(), probe));
            each(i, result);
        }
    }

    /// Shard `index`, or why it cannot answer.
    fn held(&self, index: u32) -> Result<&Arc<LocalShard>, ReadError> {
        self.shard(index).ok_or_else(|| ReadError::ShardNotHeld {
            domain: self.manifest.domain.clone(),
            version: self.manifest.version.clone(),
            shard: index,
        })
    }

    /// Looks `key` (whose probe is `probe`) up in `shard`.
    fn read(
        &self,
        shard: &LocalShard,
        key: &[u8],
        probe: Probe,
    ) -> Result<Option<Bytes>, ReadError> {
        match shard.shard().get_probed(key, probe) {
            Ok(value) => Ok(value.map(|v| shard.share(v))),
            Err(source) => Err(ReadError::Corrupt {
                domain: self.manifest.domain.clone(),
                version: self.manifest.version.clone(),
                shard: shard.entry().index,
                object: shard.entry().object.clone(),
                source,
            }),
        }
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

/// The shard format `manifest` names, which every shard file of it must be in.
pub(crate) fn manifest_format(
    dir: &DomainDir,
    manifest: &Manifest,
) -> Result<ShardFormat, LoadError> {
    manifest.format().map_err(|e| LoadError::ManifestMismatch {
        path: dir.version_dir(&manifest.version).display().to_string(),
        detail: format!("shard_format: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str) -> Arc<LoadedVersion> {
        let mut manifest = Manifest::new("d", id, "2026-01-01T00:00:00Z", Vec::new());
        manifest.shard_count = 2;
        Arc::new(LoadedVersion::from_parts(
            manifest,
            vec![None, None],
            Vec::new(),
        ))
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

    /// Version `v1` of 2 shards, keys `key-000`..`key-039` valued `val-NNN`;
    /// only shard 0 held.
    fn half_held(dir: &std::path::Path) -> LoadedVersion {
        let mut parts: [Vec<String>; 2] = Default::default();
        for i in 0..40 {
            let k = format!("key-{i:03}");
            parts[shard_for(k.as_bytes(), 2) as usize].push(k);
        }
        let path = dir.join("shard-00000.tsk");
        let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut builder =
            tusk_format::ShardBuilder::new(file, tusk_format::BuildOptions::default())
                .expect("builder");
        parts[0].sort();
        for k in &parts[0] {
            builder
                .add(k.as_bytes(), k.replace("key", "val").as_bytes())
                .expect("add");
        }
        let (writer, summary) = builder.finish().expect("finish");
        drop(writer.into_inner().expect("flush"));
        let bytes = std::fs::read(&path).expect("read");
        let entry = tusk_store::ShardEntry {
            index: 0,
            object: "shard-00000.tsk".into(),
            bytes: bytes.len() as u64,
            records: summary.records,
            crc32: crc32fast::hash(&bytes),
            content_hash: Some(tusk_store::ContentHash::of(&bytes)),
        };
        let shard = LocalShard::open(
            "v1",
            &path,
            &entry,
            ShardFormat::default(),
            Checked::ByDownload,
            Warm::Now,
        )
        .expect("opens");
        let mut manifest = Manifest::new("d", "v1", "2026-01-01T00:00:00Z", Vec::new());
        manifest.shard_count = 2;
        LoadedVersion::from_parts(manifest, vec![Some(Arc::new(shard)), None], Vec::new())
    }

    /// Responses clone the version's id: they must share its bytes, not copy them,
    /// and a version rebuilt around a re-downloaded shard keeps sharing them.
    #[test]
    fn the_version_id_is_made_once_and_shared() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let v = half_held(tmp.path());
        assert_eq!(v.version_id(), v.version());
        let answer = v.version_id().clone();
        assert_eq!(answer.as_ptr(), v.version_id().as_ptr());
        let shard = v.held_shards().next().expect("a held shard");
        let reopened = LocalShard::open(
            "v1",
            shard.path(),
            shard.entry(),
            ShardFormat::default(),
            Checked::ByDownload,
            Warm::Now,
        )
        .expect("reopens");
        let rebuilt = v.with_shard(reopened);
        assert_eq!(rebuilt.version_id().as_ptr(), v.version_id().as_ptr());
    }

    #[test]
    fn get_many_answers_every_key_in_order_as_get_does() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let v = half_held(tmp.path());
        let keys: Vec<Vec<u8>> = (0..45)
            .map(|i| format!("key-{i:03}").into_bytes())
            .collect();
        let mut answered = Vec::new();
        v.get_many(&keys, |i, got| answered.push((i, got)));
        assert_eq!(answered.len(), keys.len());
        let (mut hits, mut absent, mut not_held) = (0, 0, 0);
        for ((i, got), key) in answered.into_iter().zip(&keys) {
            let single = v.get(key);
            match (got, single) {
                (Ok(Some(a)), Ok(Some(b))) => {
                    assert_eq!(a, b);
                    assert_eq!(a, format!("val-{i:03}").as_bytes());
                    hits += 1;
                }
                (Ok(None), Ok(None)) => absent += 1,
                (
                    Err(ReadError::ShardNotHeld { shard: a, .. }),
                    Err(ReadError::ShardNotHeld { shard: b, .. }),
                ) => {
                    assert_eq!((a, b), (1, 1));
                    not_held += 1;
                }
                (a, b) => panic!("key {i}: get_many {a:?}, get {b:?}"),
            }
        }
        // Both shards got keys, and the 5 keys never written answer "absent" or
        // "not held" by their shard.
        assert!(hits > 0 && not_held > 0, "{hits} hits, {not_held} not held");
        assert_eq!(hits + absent + not_held, 45);
        assert!(hits <= 40 && absent <= 5);
    }

    #[test]
    fn a_key_of_a_shard_not_held_is_a_failed_precondition() {
        let v = version("v1");
        let err = v.get(b"k").expect_err("no shard held");
        assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    }
}
