//! The data directory: `<data_dir>/<domain>/<version>/shard-00000.tsk ...` plus a
//! copy of the version's `MANIFEST.json`, written last. The manifest copy is the
//! marker that the local version is complete (every owned shard downloaded and
//! verified); a version directory without it is partial and swept.
//!
//! Everything here is blocking file-system work: call it from `spawn_blocking`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tusk_store::Manifest;

use crate::error::LoadError;

/// File name of the local manifest copy (the completeness marker).
pub const LOCAL_MANIFEST: &str = "MANIFEST.json";
/// Suffix of files being written (the store's downloads use `.part`).
const TEMP_SUFFIXES: [&str; 2] = [".part", ".tmp"];

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
    /// versions, and whole version directories without a manifest copy. Returns the
    /// removed paths.
    pub fn sweep(&self) -> Result<Vec<PathBuf>, LoadError> {
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
            if !path.join(LOCAL_MANIFEST).is_file() {
                remove_dir(&path)?;
                removed.push(path);
                continue;
            }
            for inner in read_dir(&path)? {
                let inner_name = inner.file_name().to_string_lossy().into_owned();
                if is_temp(&inner_name) {
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

    /// Prepares an empty directory for downloading `version` (removing any partial
    /// leftovers).
    pub fn prepare_download(&self, version: &str) -> Result<PathBuf, LoadError> {
        let dir = self.version_dir(version);
        if dir.exists() {
            remove_dir(&dir)?;
        }
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

fn remove_dir(path: &Path) -> Result<(), LoadError> {
    fs::remove_dir_all(path).map_err(|e| LoadError::io(path, e))
}
