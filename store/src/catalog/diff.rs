//! `Catalog::diff`: what changed between two versions of a domain, by a merge of
//! their sorted shards.
//!
//! Both versions' shards are downloaded (verified) into a scratch directory; each
//! shard file is sorted by key, so a k-way merge of one version's shards gives all
//! its records in key order, whatever its shard count; a two-way walk of both merged
//! streams then counts added, removed, changed and unchanged keys. Disk use is the
//! two versions' size; memory is one record per shard.

mod merge;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use tusk_format::Shard;

pub use merge::{DiffCounts, DiffSamples};
use merge::{KMerge, Record, compare};

use super::Catalog;
use crate::keys::{shard_key, validate_domain};
use crate::{Manifest, Result, StoreError};

/// One step of a diff's progress, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiffProgress {
    /// A shard was downloaded: `bytes` of it; `total_bytes` is both versions' size.
    Downloaded {
        /// Bytes of this shard.
        bytes: u64,
        /// Bytes of every shard of both versions.
        total_bytes: u64,
    },
    /// More records were compared (a delta, reported in batches).
    Compared {
        /// Records consumed from either side since the last event.
        records: u64,
        /// Records of both versions.
        total_records: u64,
    },
}

/// A progress callback for [`Catalog::diff`]; called from download and compare
/// threads.
pub type DiffProgressFn = Arc<dyn Fn(DiffProgress) + Send + Sync>;

/// Settings of [`Catalog::diff`].
#[derive(Clone, Default)]
pub struct DiffOptions {
    /// Example keys to keep of each kind (added, removed, changed).
    pub sample: usize,
    /// Where to put the downloaded shards (default: the system temp dir).
    pub temp_dir: Option<PathBuf>,
    /// Called as the diff progresses.
    pub progress: Option<DiffProgressFn>,
}

impl std::fmt::Debug for DiffOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffOptions")
            .field("sample", &self.sample)
            .field("temp_dir", &self.temp_dir)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What changed from one version of a domain to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffReport {
    /// The domain.
    pub domain: String,
    /// The old version.
    pub from: String,
    /// The new version.
    pub to: String,
    /// Counts and example keys.
    pub counts: DiffCounts,
}

/// Opens a shard file downloaded to `path`; `key` (its store key) names it in errors.
pub(crate) fn open_local_shard(path: &Path, key: &str) -> Result<Shard<Mmap>> {
    let file = std::fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
    // SAFETY: the file is a private scratch copy just downloaded and verified; nothing
    // writes or truncates it while it is mapped.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| StoreError::io(path, e))?;
    Shard::open(map).map_err(|e| corrupt_shard(key, e))
}

fn corrupt_shard(key: &str, e: tusk_format::FormatError) -> StoreError {
    StoreError::CorruptDocument {
        key: key.to_string(),
        detail: e.to_string(),
    }
}

impl Catalog {
    /// Compares version `from` with version `to` of `domain`: keys added (only in
    /// `to`), removed (only in `from`), changed (different values) and unchanged,
    /// with up to `options.sample` example keys of each kind. Downloads both versions
    /// (checked against their manifests) into a scratch directory removed afterwards.
    pub async fn diff(
        &self,
        domain: &str,
        from: &str,
        to: &str,
        options: &DiffOptions,
    ) -> Result<DiffReport> {
        validate_domain(domain)?;
        let old = self.manifest(domain, from).await?;
        let new = self.manifest(domain, to).await?;
        let scratch = match &options.temp_dir {
            Some(dir) => tempfile::tempdir_in(dir).map_err(|e| StoreError::io(dir, e))?,
            None => tempfile::tempdir().map_err(|e| StoreError::io(std::env::temp_dir(), e))?,
        };
        let total_bytes = old.bytes + new.bytes;
        let old_files = self
            .download_all(&old, &scratch.path().join("from"), total_bytes, options)
            .await?;
        let new_files = self
            .download_all(&new, &scratch.path().join("to"), total_bytes, options)
            .await?;
        let sample = options.sample;
        let progress = options.progress.clone();
        let total_records = old.records + new.records;
        let counts = tokio::task::spawn_blocking(move || -> Result<DiffCounts> {
            let old_shards = open_all(&old_files)?;
            let new_shards = open_all(&new_files)?;
            let mut report = |records| {
                if let Some(p) = &progress {
                    p(DiffProgress::Compared {
                        records,
                        total_records,
                    });
                }
            };
            compare(
                merged(&old, &old_shards),
                merged(&new, &new_shards),
                sample,
                &mut report,
            )
        })
        .await
        .map_err(|e| StoreError::io(scratch.path(), std::io::Error::other(e)))??;
        Ok(DiffReport {
            domain: domain.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            counts,
        })
    }

    /// Downloads every shard of `manifest` into `dir`; returns `(store key, path)`
    /// per shard.
    async fn download_all(
        &self,
        manifest: &Manifest,
        dir: &Path,
        total_bytes: u64,
        options: &DiffOptions,
    ) -> Result<Vec<(String, PathBuf)>> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut files = Vec::with_capacity(manifest.shards.len());
        for entry in &manifest.shards {
            let path = dir.join(&entry.object);
            self.download_shard(
                manifest,
                entry.index,
                &path,
                &crate::DownloadOptions::default(),
            )
            .await?;
            if let Some(p) = &options.progress {
                p(DiffProgress::Downloaded {
                    bytes: entry.bytes,
                    total_bytes,
                });
            }
            let key = shard_key(&manifest.domain, &manifest.version, &entry.object);
            files.push((key, path));
        }
        Ok(files)
    }
}

fn open_all(files: &[(String, PathBuf)]) -> Result<Vec<(String, Shard<Mmap>)>> {
    files
        .iter()
        .map(|(key, path)| Ok((key.clone(), open_local_shard(path, key)?)))
        .collect()
}

/// All records of one version in key order: a k-way merge of its shards.
fn merged<'a>(
    manifest: &Manifest,
    shards: &'a [(String, Shard<Mmap>)],
) -> impl Iterator<Item = Result<Record<'a>>> + use<'a> {
    let streams = shards
        .iter()
        .map(|(key, shard)| {
            shard
                .iter()
                .map(move |r| r.map_err(|e| corrupt_shard(key, e)))
        })
        .collect();
    KMerge::new(
        format!("{} version {}", manifest.domain, manifest.version),
        streams,
    )
}
