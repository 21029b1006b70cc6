//! The data directory: `<data_dir>/<domain>/<version>/shard-00000.tsk ...` plus a
//! copy of the version's `MANIFEST.json`, written last. The manifest copy is the
//! marker that the local version is complete (every owned shard downloaded and
//! verified); a version directory without it is partial. The partial directory of
//! the version being loaded is kept (with its `.part` files and their
//! `.part.progress` sidecars) so an interrupted download resumes; other partial
//! directories are swept.
//!
//! Everything here is blocking file-system work: call it from `spawn_blocking`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tusk_store::Manifest;

use crate::error::LoadError;

/// File name of the local manifest copy (the completeness marker).
pub const LOCAL_MANIFEST: &str = "MANIFEST.json";
/// Suffixes of files being written: downloads (`.part` plus its `.part.progress`
/// sidecar) and atomic replacements (`.tmp`).
const TEMP_SUFFIXES: [&str; 3] = [".part", ".progress", ".tmp"];
/// Suffixes of the files an interrupted download resumes from.
const RESUME_SUFFIXES: [&str; 2] = [".part", ".part.progress"];

/// Which partial version directories a sweep keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepPartial {
    /// Every one (when it is not known which version will be loaded).
    All,
    /// Only this version's, for resuming its download.
    Only(String),
    /// None.
    Nothing,
}

/// One domain's directory inside the data dir.
#[derive(Debug, Clone)]
pub struct DomainDir {
    root: PathBuf,
    domain: String,
}

impl DomainDir {
    /// The directory of `domain` under `data_dir` (not created yet).
    pub fn new(data_dir: &Path, domain: &str) -> DomainDir {
        DomainDir {
            root: data_dir.join(domain),
            domain: domain.to_string(),
        }
    }

    /// `<data_dir>/<domain>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<data_dir>/<domain>/<version>`.
    pub fn version_dir(&self, version: &str) -> PathBuf {
        self.root.join(version)
    }

    /// Path of `object` (a shard file name) of `version`.
    pub fn shard_path(&self, version: &str, object: &str) -> PathBuf {
        self.version_dir(version).join(object)
    }

    /// Creates the domain directory if needed.
    pub fn create(&self) -> Result<(), LoadError> {
        fs::create_dir_all(&self.root).map_err(|e| LoadError::io(&self.root, e))
    }

    /// Removes leftovers of interrupted work: temporary files inside complete
    /// versions, and version directories without a manifest copy, except those
    /// `keep` names. Inside a kept partial directory only files no download resumes
    /// from (`.tmp`) are removed. Returns the removed paths. Only at start, when
    /// nothing else writes to the directory: see [`DomainDir::sweep_partial`].
    pub fn sweep(&self, keep: &KeepPartial) -> Result<Vec<PathBuf>, LoadError> {
        self.sweep_with(keep, true)
    }

    /// Removes the partial version directories `keep` does not name, and nothing
    /// inside complete versions (a shard being repaired writes its `.part` there).
    pub fn sweep_partial(&self, keep: &KeepPartial) -> Result<Vec<PathBuf>, LoadError> {
        self.sweep_with(keep, false)
    }

    fn sweep_with(
        &self,
        keep: &KeepPartial,
        inside_complete: bool,
    ) -> Result<Vec<PathBuf>, LoadError> {
        let mut removed = Vec::new();
        for entry in read_dir(&self.root)? {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !path.is_dir() {
                if is_temp(&name) {
                    remove_file(&path)?;
                    removed.push(path);
                }
                continue;
            }
            let complete = path.join(LOCAL_MANIFEST).is_file();
            let kept = match keep {
                KeepPartial::All => true,
                KeepPartial::Only(version) => *version == name,
                KeepPartial::Nothing => false,
            };
            if !complete && !kept {
                remove_dir(&path)?;
                removed.push(path);
                continue;
            }
            if complete && !inside_complete {
                continue;
            }
            for inner in read_dir(&path)? {
                let inner_name = inner.file_name().to_string_lossy().into_owned();
                let resumable = !complete && is_resumable(&inner_name);
                if is_temp(&inner_name) && !resumable {
                    remove_file(&inner.path())?;
                    removed.push(inner.path());
                }
            }
        }
        Ok(removed)
    }

    /// Versions whose manifest copy is present, sorted by id (ids sort by time).
    pub fn complete_versions(&self) -> Result<Vec<String>, LoadError> {
        let mut versions: Vec<String> = read_dir(&self.root)?
            .into_iter()
            .filter(|e| e.path().join(LOCAL_MANIFEST).is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        versions.sort();
        Ok(versions)
    }

    /// True when `version` has its manifest copy.
    pub fn is_complete(&self, version: &str) -> bool {
        self.version_dir(version).join(LOCAL_MANIFEST).is_file()
    }

    /// Reads the manifest copy of `version`, checking it describes this domain and
    /// version.
    pub fn read_manifest(&self, version: &str) -> Result<Manifest, LoadError> {
        let path = self.version_dir(version).join(LOCAL_MANIFEST);
        let bytes = fs::read(&path).map_err(|e| LoadError::io(&path, e))?;
        let shown = path.display().to_string();
        let manifest =
            Manifest::from_json(&shown, &bytes).map_err(|source| LoadError::Manifest {
                version: version.to_string(),
                source,
            })?;
        if manifest.domain != self.domain || manifest.version != version {
            return Err(LoadError::ManifestMismatch {
                path: shown,
                detail: format!(
                    "describes {}/{}, expected {}/{version}",
                    manifest.domain, manifest.version, self.domain
                ),
            });
        }
        Ok(manifest)
    }

    /// Prepares the directory for downloading `version`, keeping what an earlier,
    /// interrupted attempt left there (complete shard files and `.part` files with
    /// their sidecars: the download re-verifies them before using them).
    pub fn prepare_download(&self, version: &str) -> Result<PathBuf, LoadError> {
        let dir = self.version_dir(version);
        fs::create_dir_all(&dir).map_err(|e| LoadError::io(&dir, e))?;
        Ok(dir)
    }

    /// Writes the manifest copy of a verified version: temp file, fsync, rename,
    /// fsync of the directory. After this the version counts as complete.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<(), LoadError> {
        let dir = self.version_dir(&manifest.version);
        let tmp = dir.join(format!("{LOCAL_MANIFEST}.tmp"));
        let dest = dir.join(LOCAL_MANIFEST);
        let mut file = fs::File::create(&tmp).map_err(|e| LoadError::io(&tmp, e))?;
        file.write_all(&manifest.to_json())
            .map_err(|e| LoadError::io(&tmp, e))?;
        file.sync_all().map_err(|e| LoadError::io(&tmp, e))?;
        drop(file);
        fs::rename(&tmp, &dest).map_err(|e| LoadError::io(&dest, e))?;
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| LoadError::io(&dir, e))
    }

    /// Marks `version` partial again (removes its manifest copy) and deletes
    /// `bad`, a file of it found damaged: its next download keeps the other files
    /// that still match and fetches the rest.
    pub fn unmark(&self, version: &str, bad: Option<&Path>) -> Result<(), LoadError> {
        let dir = self.version_dir(version);
        remove_if_present(&dir.join(LOCAL_MANIFEST))?;
        match bad {
            Some(path) if path.parent() == Some(dir.as_path()) => remove_if_present(path),
            _ => Ok(()),
        }
    }

    /// Unlinks a damaged shard file before it is downloaded again (a mapping of it
    /// stays valid; the new file gets a new inode).
    pub fn remove_shard(&self, version: &str, object: &str) -> Result<(), LoadError> {
        remove_if_present(&self.shard_path(version, object))
    }

    /// Deletes the directory of `version` (missing is fine).
    pub fn remove_version(&self, version: &str) -> Result<(), LoadError> {
        let dir = self.version_dir(version);
        if dir.exists() {
            remove_dir(&dir)
        } else {
            Ok(())
        }
    }
}

fn is_temp(name: &str) -> bool {
    TEMP_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn is_resumable(name: &str) -> bool {
    RESUME_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, LoadError> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LoadError::io(dir, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(LoadError::io(dir, e)),
    }
}

fn remove_file(path: &Path) -> Result<(), LoadError> {
    fs::remove_file(path).map_err(|e| LoadError::io(path, e))
}

fn remove_if_present(path: &Path) -> Result<(), LoadError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LoadError::io(path, e)),
        _ => Ok(()),
    }
}

fn remove_dir(path: &Path) -> Result<(), LoadError> {
    fs::remove_dir_all(path).map_err(|e| LoadError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(domain: &str, version: &str) -> Manifest {
        Manifest {
            format_version: tusk_store::MANIFEST_FORMAT_VERSION,
            domain: domain.into(),
            version: version.into(),
            shard_count: 1,
            partitioner: tusk_store::PartitionerSpec::default(),
            shard_format: tusk_format::SHARD_FORMAT_NAME.into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            records: 1,
            bytes: 10,
            writer: Default::default(),
            shards: vec![tusk_store::ShardEntry {
                index: 0,
                object: "shard-00000.tsk".into(),
                bytes: 10,
                records: 1,
                crc32: 0,
            }],
        }
    }

    #[test]
    fn the_manifest_copy_marks_a_version_complete() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DomainDir::new(tmp.path(), "pages");
        dir.create().expect("create");
        dir.prepare_download("v1").expect("prepare");
        assert!(!dir.is_complete("v1"));
        assert!(dir.complete_versions().expect("list").is_empty());
        dir.write_manifest(&manifest("pages", "v1"))
            .expect("write marker");
        assert!(dir.is_complete("v1"));
        assert_eq!(dir.complete_versions().expect("list"), ["v1"]);
        assert_eq!(dir.read_manifest("v1").expect("read").version, "v1");
        assert!(!dir.version_dir("v1").join("MANIFEST.json.tmp").exists());
    }

    #[test]
    fn a_manifest_copy_of_another_version_is_rejected() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DomainDir::new(tmp.path(), "pages");
        dir.prepare_download("v2").expect("prepare");
        let wrong = manifest("pages", "v1");
        let bytes = wrong.to_json();
        std::fs::write(dir.version_dir("v2").join(LOCAL_MANIFEST), bytes).expect("write");
        let err = dir.read_manifest("v2").expect_err("mismatch");
        assert!(err.to_string().contains("expected pages/v2"), "{err}");
    }

    #[test]
    fn sweep_removes_partial_versions_and_temp_files_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DomainDir::new(tmp.path(), "pages");
        dir.prepare_download("v1").expect("prepare");
        dir.write_manifest(&manifest("pages", "v1"))
            .expect("marker");
        std::fs::write(dir.shard_path("v1", "shard-00000.tsk"), b"0123456789").expect("shard");
        std::fs::write(dir.shard_path("v1", "shard-00001.tsk.part"), b"half").expect("part");
        dir.prepare_download("v2").expect("partial version");
        std::fs::write(dir.shard_path("v2", "shard-00000.tsk"), b"half").expect("shard");

        let removed = dir.sweep(&KeepPartial::Nothing).expect("sweep");
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(!dir.version_dir("v2").exists());
        assert!(!dir.shard_path("v1", "shard-00001.tsk.part").exists());
        assert!(dir.shard_path("v1", "shard-00000.tsk").exists());
        assert_eq!(dir.complete_versions().expect("list"), ["v1"]);
    }

    #[test]
    fn unmark_makes_a_version_partial_and_drops_the_bad_file_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DomainDir::new(tmp.path(), "pages");
        dir.prepare_download("v1").expect("prepare");
        dir.write_manifest(&manifest("pages", "v1")).expect("marker");
        for name in ["shard-00000.tsk", "shard-00001.tsk"] {
            std::fs::write(dir.shard_path("v1", name), b"x").expect("shard");
        }
        let bad = dir.shard_path("v1", "shard-00001.tsk");
        dir.unmark("v1", Some(&bad)).expect("unmark");
        assert!(!dir.is_complete("v1"));
        assert!(!bad.exists());
        assert!(dir.shard_path("v1", "shard-00000.tsk").exists());
        // A path outside the version is never deleted.
        let outside = tmp.path().join("elsewhere");
        std::fs::write(&outside, b"x").expect("file");
        dir.unmark("v1", Some(&outside)).expect("unmark again");
        assert!(outside.exists());
    }

    #[test]
    fn a_missing_domain_dir_is_empty_not_an_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DomainDir::new(tmp.path(), "never");
        assert!(dir.sweep(&KeepPartial::Nothing).expect("sweep").is_empty());
        assert!(dir.complete_versions().expect("list").is_empty());
    }

    #[test]
    fn sweep_keeps_the_resumable_download_of_the_named_version() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DomainDir::new(tmp.path(), "pages");
        dir.prepare_download("v1").expect("complete version");
        dir.write_manifest(&manifest("pages", "v1"))
            .expect("marker");
        std::fs::write(dir.shard_path("v1", "shard-00000.tsk.part.progress"), b"{}")
            .expect("stale sidecar");
        for v in ["v2", "v3"] {
            dir.prepare_download(v).expect("partial version");
            for name in [
                "shard-00000.tsk",
                "shard-00001.tsk.part",
                "shard-00001.tsk.part.progress",
                "shard-00001.tsk.part.progress.tmp",
            ] {
                std::fs::write(dir.shard_path(v, name), b"x").expect("file");
            }
        }

        let removed = dir.sweep(&KeepPartial::Only("v2".into())).expect("sweep");
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(!dir.version_dir("v3").exists(), "other partial versions go");
        assert!(
            !dir.shard_path("v1", "shard-00000.tsk.part.progress")
                .exists()
        );
        for kept in [
            "shard-00000.tsk",
            "shard-00001.tsk.part",
            "shard-00001.tsk.part.progress",
        ] {
            assert!(
                dir.shard_path("v2", kept).exists(),
                "{kept} kept for resume"
            );
        }
        assert!(
            !dir.shard_path("v2", "shard-00001.tsk.part.progress.tmp")
                .exists()
        );

        // Not knowing the target keeps every partial version.
        dir.prepare_download("v4").expect("partial version");
        assert!(dir.sweep(&KeepPartial::All).expect("sweep").is_empty());
        assert!(dir.version_dir("v4").exists() && dir.version_dir("v2").exists());
        // prepare_download keeps what is there.
        dir.prepare_download("v2").expect("again");
        assert!(dir.shard_path("v2", "shard-00001.tsk.part").exists());

        // A download's sweep removes other partial versions but leaves complete
        // ones alone (a repair may be writing a `.part` there).
        std::fs::write(dir.shard_path("v1", "shard-00000.tsk.part"), b"x").expect("part");
        let removed = dir
            .sweep_partial(&KeepPartial::Only("v2".into()))
            .expect("sweep");
        assert_eq!(removed, [dir.version_dir("v4")]);
        assert!(dir.shard_path("v1", "shard-00000.tsk.part").exists());
    }
}
