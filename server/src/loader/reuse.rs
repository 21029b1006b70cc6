//! Shards reused across versions: a new version often repeats shards of one the
//! node already holds (an unchanged part of the data, a republish, a roll forward
//! after a rollback). Such a shard is hard-linked into the new version's directory
//! instead of downloaded, and its earlier full check is trusted as it is at a
//! restart ([`crate::stamp`]): neither a byte fetched nor a byte re-read.
//!
//! A file is reused only when the new manifest's entry and the one of the version
//! on disk hold the same bytes by size, CRC32 and content hash
//! ([`ShardEntry::same_bytes_as`]; format 1 manifests have no content hash, so
//! their shards are always downloaded), and the file still matches the stamp its
//! check left. [`plan_reuse`] decides; [`link_reusable`] acts and reports what it
//! linked. Linking never writes to a file: the new name shares the old inode, and
//! shard files are never written after they are complete (a repair downloads a
//! new file under the name instead).

use std::collections::BTreeMap;

use tusk_store::{Manifest, ShardEntry};

use crate::data_dir::DomainDir;
use crate::error::LoadError;
use crate::stamp::{self, FileStamp, Stamps};

/// A complete version on local disk, as the reuse plan sees it.
#[derive(Debug, Clone)]
pub struct OnDisk {
    /// Its manifest copy.
    pub manifest: Manifest,
    /// The stamps of its checked shard files.
    pub stamps: Stamps,
}

/// A file on disk holding the bytes of a wanted shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reuse {
    /// The version on disk that holds it.
    pub version: String,
    /// Its object name there.
    pub object: String,
    /// The stamp of its last full check: the file is used only while it still
    /// matches.
    pub stamp: FileStamp,
}

/// For each of the `owned` shards of `wanted`, the first file of `on_disk` (newest
/// version first) holding the same bytes and stamped by a full check. Shards with
/// no such file are absent: they are downloaded. `wanted`'s own directory is never
/// a source.
pub fn plan_reuse(wanted: &Manifest, owned: &[u32], on_disk: &[OnDisk]) -> BTreeMap<u32, Reuse> {
    let mut plan = BTreeMap::new();
    for &index in owned {
        let Some(entry) = wanted
            .shards
            .get(index as usize)
            .filter(|e| e.index == index)
        else {
            continue;
        };
        let found = on_disk
            .iter()
            .rev()
            .filter(|held| held.manifest.version != wanted.version)
            .find_map(|held| source_in(held, entry));
        if let Some(reuse) = found {
            plan.insert(index, reuse);
        }
    }
    plan
}

fn source_in(held: &OnDisk, entry: &ShardEntry) -> Option<Reuse> {
    held.manifest
        .shards
        .iter()
        .filter(|e| e.same_bytes_as(entry))
        .find_map(|e| {
            held.stamps.get(&e.object).map(|stamp| Reuse {
                version: held.manifest.version.clone(),
                object: e.object.clone(),
                stamp: *stamp,
            })
        })
}

/// A shard in place in the new version's directory, linked from a version on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linked {
    /// The stamp of its source's check, which the linked file carries too.
    pub stamp: FileStamp,
    /// True when this call made the link (false: an earlier, interrupted attempt
    /// at the same download did).
    pub now: bool,
}

/// Hard-links into `wanted`'s directory every owned shard a complete local
/// version holds the same bytes of ([`plan_reuse`]). Returns the shards now in
/// place. A shard whose source changed since its check, vanished, or cannot be
/// linked is left out (logged): it is downloaded. Blocking.
pub fn link_reusable(
    dir: &DomainDir,
    wanted: &Manifest,
    owned: &[u32],
    domain: &str,
) -> Result<BTreeMap<u32, Linked>, LoadError> {
    let mut on_disk = Vec::new();
    for version in dir.complete_versions()? {
        if version == wanted.version {
            continue;
        }
        match dir.read_manifest(&version) {
            Ok(manifest) => on_disk.push(OnDisk {
                stamps: dir.read_stamps(&version),
                manifest,
            }),
            Err(e) => {
                tracing::warn!(domain, version, error = %e, "cannot read a local manifest: its shards are not reused");
            }
        }
    }
    let mut linked = BTreeMap::new();
    for (index, reuse) in plan_reuse(wanted, owned, &on_disk) {
        let object = &wanted.shards[index as usize].object;
        let source = dir.shard_path(&reuse.version, &reuse.object);
        let dest = dir.shard_path(&wanted.version, object);
        let stamp_of = |path: &std::path::Path| std::fs::metadata(path).map(|m| FileStamp::of(&m));
        if let Ok(there) = stamp_of(&dest) {
            // An earlier attempt linked it; anything else there is the download's
            // to check.
            if stamp::trusts(Some(&reuse.stamp), &there) {
                let earlier = Linked {
                    stamp: reuse.stamp,
                    now: false,
                };
                linked.insert(index, earlier);
            }
            continue;
        }
        match stamp_of(&source) {
            Ok(found) if stamp::trusts(Some(&reuse.stamp), &found) => {}
            Ok(_) => {
                tracing::warn!(domain, version = %wanted.version, shard = index, source = %source.display(),
                    "a shard on disk with the same bytes changed since its check: downloading instead");
                continue;
            }
            Err(e) => {
                tracing::warn!(domain, version = %wanted.version, shard = index, source = %source.display(),
                    error = %e, "cannot reuse a shard on disk: downloading instead");
                continue;
            }
        }
        if let Err(e) = std::fs::hard_link(&source, &dest) {
            tracing::warn!(domain, version = %wanted.version, shard = index, source = %source.display(),
                error = %e, "cannot link a shard on disk: downloading instead");
            continue;
        }
        tracing::info!(domain, version = %wanted.version, shard = index, from = %reuse.version,
            bytes = wanted.shards[index as usize].bytes, "shard reused from a version on disk");
        let made = Linked {
            stamp: reuse.stamp,
            now: true,
        };
        linked.insert(index, made);
    }
    if !linked.is_empty() {
        // The links are names in the directory: as durable as a download's
        // rename before the version is marked complete (an interrupted attempt
        // may have linked without syncing).
        dir.sync_version_dir(&wanted.version)?;
    }
    Ok(linked)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use tusk_store::{ContentHash, shard_object_name};

    const STAMP: FileStamp = FileStamp {
        bytes: 100,
        inode: 11,
        mtime_ns: 5,
    };

    fn entry(index: u32, crc32: u32, hash: Option<u128>) -> ShardEntry {
        ShardEntry {
            index,
            object: shard_object_name(index),
            bytes: 100,
            records: 4,
            crc32,
            content_hash: hash.map(ContentHash),
        }
    }

    fn manifest(version: &str, shards: Vec<ShardEntry>) -> Manifest {
        let mut m = Manifest::new("d", version, "2026-12-02T00:00:00Z", shards);
        if m.shards.iter().all(|s| s.content_hash.is_none()) {
            m.format_version = 1;
        }
        m
    }

    fn on_disk(m: Manifest, stamped: &[u32]) -> OnDisk {
        let stamps = stamped
            .iter()
            .map(|&i| {
                let stamp = FileStamp {
                    inode: STAMP.inode + u64::from(i),
                    ..STAMP
                };
                (shard_object_name(i), stamp)
            })
            .collect();
        OnDisk {
            manifest: m,
            stamps,
        }
    }

    #[test]
    fn shards_with_the_same_bytes_are_reused_from_the_newest_version_holding_them() {
        let old = on_disk(
            manifest("v1", vec![entry(0, 10, Some(100)), entry(1, 11, Some(101))]),
            &[0, 1],
        );
        let newer = on_disk(
            manifest("v2", vec![entry(0, 10, Some(100)), entry(1, 12, Some(102))]),
            &[0, 1],
        );
        let wanted = manifest(
            "v3",
            vec![
                entry(0, 10, Some(100)),
                entry(1, 11, Some(101)),
                entry(2, 13, Some(103)),
            ],
        );
        let plan = plan_reuse(&wanted, &[0, 1, 2], &[old, newer]);
        let sources: Vec<(u32, &str, &str)> = plan
            .iter()
            .map(|(i, r)| (*i, r.version.as_str(), r.object.as_str()))
            .collect();
        assert_eq!(
            sources,
            [(0, "v2", "shard-00000.tsk"), (1, "v1", "shard-00001.tsk")]
        );
        assert_eq!(plan[&1].stamp.inode, STAMP.inode + 1);
    }

    #[test]
    fn the_same_bytes_under_another_shard_number_are_reused_too() {
        // Bytes are bytes: a file is reused whatever shard number it had.
        let held = on_disk(
            manifest("v1", vec![entry(0, 10, Some(100)), entry(1, 20, Some(200))]),
            &[0, 1],
        );
        let wanted = manifest("v2", vec![entry(0, 20, Some(200)), entry(1, 30, Some(300))]);
        let plan = plan_reuse(&wanted, &[0, 1], &[held]);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[&0].object, "shard-00001.tsk");
    }

    #[test]
    fn nothing_is_reused_without_a_matching_content_hash_a_stamp_or_ownership() {
        let held = on_disk(
            manifest(
                "v1",
                vec![
                    entry(0, 10, Some(100)),
                    entry(1, 11, Some(101)),
                    entry(2, 12, Some(102)),
                ],
            ),
            &[0, 2],
        );
        let wanted = manifest(
            "v2",
            vec![
                // Same size and CRC32, another content hash: other bytes.
                entry(0, 10, Some(999)),
                // Same bytes, but its file on disk was never stamped by a check.
                entry(1, 11, Some(101)),
                // Same bytes, stamped, but this node does not own shard 2.
                entry(2, 12, Some(102)),
            ],
        );
        assert!(plan_reuse(&wanted, &[0, 1], std::slice::from_ref(&held)).is_empty());
        assert_eq!(plan_reuse(&wanted, &[2], &[held]).len(), 1);
    }

    #[test]
    fn format_1_manifests_never_reuse_on_size_and_crc32_alone() {
        let old = on_disk(manifest("v1", vec![entry(0, 10, None)]), &[0]);
        let wanted_old = manifest("v2", vec![entry(0, 10, None)]);
        assert!(plan_reuse(&wanted_old, &[0], std::slice::from_ref(&old)).is_empty());
        let wanted_new = manifest("v2", vec![entry(0, 10, Some(100))]);
        assert!(plan_reuse(&wanted_new, &[0], &[old]).is_empty());
    }

    /// A data dir whose domain holds v1 complete: `objects` with their bytes,
    /// stamped as a download's check stamps them.
    fn v1_on_disk(objects: &[(&str, &[u8])]) -> (tempfile::TempDir, DomainDir, Manifest) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DomainDir::new(tmp.path(), "d");
        dir.prepare_download("v1").expect("mkdir");
        let mut stamps = Stamps::new();
        let mut shards = Vec::new();
        for (index, (object, bytes)) in (0u32..).zip(objects) {
            let path = dir.shard_path("v1", object);
            std::fs::write(&path, bytes).expect("write");
            let meta = std::fs::metadata(&path).expect("stat");
            stamps.insert(object.to_string(), FileStamp::of(&meta));
            shards.push(ShardEntry {
                index,
                object: object.to_string(),
                bytes: bytes.len() as u64,
                records: 1,
                crc32: crc32fast::hash(bytes),
                content_hash: Some(ContentHash::of(bytes)),
            });
        }
        let m = manifest("v1", shards);
        dir.write_stamps("v1", &stamps).expect("stamps");
        dir.write_manifest(&m).expect("manifest");
        (tmp, dir, m)
    }

    #[test]
    fn links_are_made_once_and_a_retry_finds_them_in_place() {
        let (_tmp, dir, v1) = v1_on_disk(&[("a.tsk", b"shard zero"), ("b.tsk", b"shard one")]);
        let mut shards = v1.shards.clone();
        shards[0].object = "shard-00000.tsk".into();
        shards[1].object = "shard-00001.tsk".into();
        let v2 = manifest("v2", shards);
        dir.prepare_download("v2").expect("mkdir");

        let first = link_reusable(&dir, &v2, &[0, 1], "d").expect("links");
        assert_eq!(first.len(), 2);
        assert!(first.values().all(|l| l.now));
        let inode = |v: &str, o: &str| std::fs::metadata(dir.shard_path(v, o)).expect("stat").ino();
        assert_eq!(inode("v1", "a.tsk"), inode("v2", "shard-00000.tsk"));
        assert_eq!(inode("v1", "b.tsk"), inode("v2", "shard-00001.tsk"));

        // An interrupted attempt's links are found, not made (or counted) again.
        let again = link_reusable(&dir, &v2, &[0, 1], "d").expect("links");
        assert_eq!(again.keys().collect::<Vec<_>>(), [&0, &1]);
        assert!(again.values().all(|l| !l.now));
        assert_eq!(again[&0].stamp, first[&0].stamp);
    }

    #[test]
    fn a_changed_source_or_a_foreign_file_in_place_is_not_reused() {
        let (_tmp, dir, v1) = v1_on_disk(&[("a.tsk", b"shard zero"), ("b.tsk", b"shard one")]);
        let v2 = manifest("v2", v1.shards.clone());
        dir.prepare_download("v2").expect("mkdir");
        // Shard 0's source was rewritten in place since its check (a new mtime).
        let a = std::fs::File::options()
            .write(true)
            .open(dir.shard_path("v1", "a.tsk"))
            .expect("open");
        a.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(9))
            .expect("mtime");
        drop(a);
        // Shard 1's name in v2 already holds another file: the download checks it.
        std::fs::write(dir.shard_path("v2", "b.tsk"), b"shard one").expect("write");
        let linked = link_reusable(&dir, &v2, &[0, 1], "d").expect("links");
        assert!(linked.is_empty(), "{linked:?}");
        assert!(!dir.shard_path("v2", "a.tsk").exists());
    }

    #[test]
    fn a_version_is_never_its_own_source() {
        let m = manifest("v1", vec![entry(0, 10, Some(100))]);
        let held = on_disk(m.clone(), &[0]);
        assert!(plan_reuse(&m, &[0], &[held]).is_empty());
    }
}
