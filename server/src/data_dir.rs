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
use crate::stamp::{STAMPS, Stamps};

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
    #[cfg(test)]
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
        write_file(&dir, LOCAL_MANIFEST, &manifest.to_json())
    }

    /// The stamps of `version`'s checked shard files ([`crate::stamp`]); empty
    /// when there are none or they cannot be read (then every file is checked in
    /// full before it is served, which is safe, only slower).
    pub fn read_stamps(&self, version: &str) -> Stamps {
        let path = self.version_dir(version).join(STAMPS);
        let Ok(bytes) = fs::read(&path) else {
            return Stamps::new();
        };
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e,
                "unreadable shard stamps: every shard of the version is checked in full");
            Stamps::new()
        })
    }

    /// Writes the stamps of `version`'s checked shard files, replacing any
    /// earlier ones (temp file, fsync, rename, fsync of the directory). Written
    /// before the manifest copy that marks the version complete.
    pub fn write_stamps(&self, version: &str, stamps: &Stamps) -> Result<(), LoadError> {
        let dir = self.version_dir(version);
        let json = serde_json::to_vec_pretty(stamps).map_err(|e| {
            LoadError::io(
                dir.join(STAMPS),
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        write_file(&dir, STAMPS, &json)
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

    /// Fsyncs the directory of `version`, so names made in it (a rename, a hard
    /// link) survive a crash.
    pub fn sync_version_dir(&self, version: &str) -> Result<(), LoadError> {
        sync_dir(&self.version_dir(version))
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

/// Writes `bytes` to `dir/name` so that a crash leaves the old file or the new
/// one, never a part: temp file, fsync, rename, fsync of the directory.
fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let dest = dir.join(name);
    let mut file = fs::File::create(&tmp).map_err(|e| LoadError::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| LoadError::io(&tmp, e))?;
    file.sync_all().map_err(|e| LoadError::io(&tmp, e))?;
    drop(file);
    fs::rename(&tmp, &dest).map_err(|e| LoadError::io(&dest, e))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), LoadError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LoadError::io(dir, e))
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
mod tests;
