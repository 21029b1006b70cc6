//! The loader's side effects on the store and the data dir: download a version (a
//! task the loader can abandon), download one damaged shard again, open a local
//! version, and the blocking file work around them. No decisions here: `plan.rs`
//! and `reuse.rs` (which shards to link from disk) make them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tusk_store::{Catalog, DownloadOptions, DownloadReport, Manifest, ShardEntry};

use super::{background, reuse};
use crate::activity::{Activity, DownloadCell};
use crate::data_dir::{DomainDir, KeepPartial};
use crate::error::LoadError;
use crate::loaded::LoadedVersion;
use crate::local_shard::{Checked, LocalShard, Warm};
use crate::metrics::Metrics;
use crate::ownership::Ownership;

/// What a download or an open needs; cheap to clone into a task.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// The domain.
    pub domain: String,
    /// Its store.
    pub catalog: Catalog,
    /// Its directory in the data dir.
    pub dir: DomainDir,
    /// Which shards this node holds.
    pub ownership: Arc<Ownership>,
    /// Shards of one version downloaded at once.
    pub concurrency: usize,
    /// Chunking and the server-wide limits.
    pub options: DownloadOptions,
    /// Download bytes, durations and the in-progress gauge.
    pub metrics: Arc<Metrics>,
    /// Where downloads in progress are listed for the status.
    pub activity: Arc<Activity>,
}

impl Fetcher {
    /// Downloads the owned shards of `version` (each verified against the
    /// manifest's size and CRC32 as it streams in), opens and verifies them on a
    /// low-priority thread (`background.rs`), warms their indexes and writes the
    /// local manifest copy that marks the version complete. Shards a complete
    /// local version holds the same bytes of are hard-linked instead, and not
    /// checked again (`reuse.rs`). Removes other partial downloads first; resumes
    /// what an interrupted attempt left. Meant to run as a task: aborting it keeps
    /// the partial files.
    pub async fn download(self, version: String) -> Result<Arc<LoadedVersion>, LoadError> {
        // Dropped when the task ends or is aborted.
        let _running = self.metrics.download_running(&self.domain);
        let started = Instant::now();
        let manifest = self
            .catalog
            .manifest(&self.domain, &version)
            .await
            .map_err(|source| LoadError::Manifest {
                version: version.clone(),
                source,
            })?;
        let dir = self.dir.clone();
        let v = version.clone();
        let swept = blocking("prepare version dir", move || {
            let swept = dir.sweep_partial(&KeepPartial::Only(v.clone()))?;
            dir.prepare_download(&v)?;
            Ok(swept)
        })
        .await?;
        for path in swept {
            tracing::info!(domain = %self.domain, path = %path.display(), "removed a partial download of another version");
        }
        let owned = self.ownership.owned_shards(&manifest);
        crate::map_limit::check_room(&manifest, owned.len()).await?;
        let bytes_total = manifest
            .shards
            .iter()
            .filter(|e| owned.contains(&e.index))
            .map(|e| e.bytes)
            .sum();
        // Listed in the status until this task ends (or is aborted).
        let progress = self
            .activity
            .download_started(&version, bytes_total, owned.len() as u32);
        let manifest = Arc::new(manifest);
        let (dir, wanted, domain) = (self.dir.clone(), Arc::clone(&manifest), self.domain.clone());
        let linked = blocking("reuse shards on disk", move || {
            reuse::link_reusable(&dir, &wanted, &owned, &domain)
        })
        .await?;
        for (&index, link) in &linked {
            let bytes = manifest.shards[index as usize].bytes;
            if link.now {
                self.metrics.reused_bytes(&self.domain).inc_by(bytes);
            }
            progress.cell().shard_done(bytes);
        }
        self.download_shards(&manifest, &linked, progress.cell())
            .await?;
        let owned = self.ownership.owned_shards(&manifest);
        let dir = self.dir.clone();
        let manifest = Manifest::clone(&manifest);
        let domain = self.domain.clone();
        // The full format check of every downloaded shard (a linked one keeps the
        // check of its first download), then the index warm-up, at low priority
        // beside the threads answering requests.
        let loaded = background::run("open downloaded shards", move || {
            let checked = |entry: &ShardEntry| match linked.get(&entry.index) {
                Some(link) => Checked::Recorded(Some(link.stamp)),
                None => Checked::ByDownload,
            };
            let loaded = LoadedVersion::open(&dir, manifest, &owned, checked, Warm::Now)?;
            // The stamps of the files just checked, then the manifest copy that
            // marks the version complete: a restart trusts files that still match.
            dir.write_stamps(loaded.version(), &loaded.stamps()?)?;
            dir.write_manifest(loaded.manifest())?;
            shed_unowned(&dir, loaded.manifest(), &owned, &domain)?;
            Ok(loaded)
        })
        .await?;
        self.metrics
            .download_finished(&self.domain, started.elapsed());
        Ok(Arc::new(loaded))
    }

    /// Downloads the owned shards of `manifest` but the `linked` ones, at most
    /// `concurrency` at once. After an interruption the shards in flight are let
    /// finish (so their progress is kept); after any other error they are
    /// cancelled.
    async fn download_shards(
        &self,
        manifest: &Arc<Manifest>,
        linked: &BTreeMap<u32, reuse::Linked>,
        progress: &DownloadCell,
    ) -> Result<(), LoadError> {
        let mut pending = self
            .ownership
            .owned_shards(manifest)
            .into_iter()
            .filter(|index| !linked.contains_key(index));
        let mut running = JoinSet::new();
        let mut first_error: Option<LoadError> = None;
        loop {
            while first_error.is_none() && running.len() < self.concurrency {
                let Some(index) = pending.next() else { break };
                let (fetcher, manifest) = (self.clone(), Arc::clone(manifest));
                running.spawn(async move { fetcher.download_shard(&manifest, index).await });
            }
            let Some(joined) = running.join_next().await else {
                return first_error.map_or(Ok(()), Err);
            };
            let result = joined.map_err(|e| LoadError::Task {
                what: format!("download of version {}", manifest.version),
                detail: e.to_string(),
            });
            match result.and_then(|r| r) {
                Ok(report) => progress.shard_done(report.fetched_bytes + report.reused_bytes),
                // Bad bytes outrank an interruption: the version must be refetched.
                Err(e) if !e.is_interrupted() => {
                    running.shutdown().await;
                    return Err(e);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }

    async fn download_shard(
        &self,
        manifest: &Manifest,
        index: u32,
    ) -> Result<DownloadReport, LoadError> {
        let object = manifest
            .shards
            .get(index as usize)
            .map(|e| e.object.clone())
            .unwrap_or_default();
        let dest = self.dir.shard_path(&manifest.version, &object);
        let report = self
            .catalog
            .download_shard(manifest, index, &dest, &self.options)
            .await
            .map_err(|source| LoadError::Download {
                version: manifest.version.clone(),
                shard: index,
                object,
                source,
            })?;
        self.metrics
            .download_bytes(&self.domain)
            .inc_by(report.fetched_bytes);
        // A resumed download is worth an operator's attention (and lets a test see
        // the resume): info; a plain one is routine.
        if report.reused_bytes > 0 {
            tracing::info!(domain = %self.domain, version = %manifest.version, shard = index,
                fetched = report.fetched_bytes, reused = report.reused_bytes, resumed = true, "shard downloaded");
        } else {
            tracing::debug!(domain = %self.domain, version = %manifest.version, shard = index,
                fetched = report.fetched_bytes, "shard downloaded");
        }
        Ok(report)
    }

    /// Downloads shard `shard` of `loaded` again into a new file (the damaged one
    /// is unlinked first; its mapping stays valid for requests in flight), opens
    /// it and returns `loaded` with that shard replaced. The old mapping is never
    /// written to.
    pub async fn repair(
        self,
        loaded: Arc<LoadedVersion>,
        shard: u32,
    ) -> Result<Arc<LoadedVersion>, LoadError> {
        let manifest = loaded.manifest().clone();
        let entry = manifest
            .shards
            .get(shard as usize)
            .filter(|e| e.index == shard)
            .cloned()
            .ok_or_else(|| LoadError::ManifestMismatch {
                path: self
                    .dir
                    .version_dir(&manifest.version)
                    .display()
                    .to_string(),
                detail: format!("shard {shard} is not in the manifest"),
            })?;
        let (dir, v, object) = (
            self.dir.clone(),
            manifest.version.clone(),
            entry.object.clone(),
        );
        blocking("remove damaged shard", move || {
            dir.remove_shard(&v, &object)
        })
        .await?;
        self.download_shard(&manifest, shard).await?;
        let dest = self.dir.shard_path(&manifest.version, &entry.object);
        let dir = self.dir.clone();
        background::run("open repaired shard", move || {
            let format = crate::loaded::manifest_format(&dir, &manifest)?;
            let fresh = LocalShard::open(
                &manifest.version,
                &dest,
                &entry,
                format,
                Checked::ByDownload,
                Warm::Now,
            )?;
            // The repaired file is a new one: stamp it, or a restart would check
            // it in full (safe, only slower) for want of a matching stamp.
            let mut stamps = dir.read_stamps(&manifest.version);
            let stamp = fresh.stamp().map_err(|e| LoadError::io(&dest, e))?;
            stamps.insert(entry.object.clone(), stamp);
            dir.write_stamps(&manifest.version, &stamps)?;
            Ok(Arc::new(loaded.with_shard(fresh)))
        })
        .await
    }

    /// Opens the complete local copy of `version` (its manifest copy, then each
    /// owned shard with [`LocalShard::open`]; no checksum pass), its indexes
    /// warmed as `warm` says.
    pub async fn open_local(
        &self,
        version: &str,
        warm: Warm,
    ) -> Result<Arc<LoadedVersion>, LoadError> {
        let (dir, v, ownership) = (
            self.dir.clone(),
            version.to_string(),
            Arc::clone(&self.ownership),
        );
        blocking("open local version", move || {
            let manifest = dir.read_manifest(&v)?;
            let owned = ownership.owned_shards(&manifest);
            LoadedVersion::open_local(&dir, manifest, &owned, warm).map(Arc::new)
        })
        .await
    }
}

/// Deletes the files of shards of `manifest` this node no longer owns (left by an
/// older topology). Mappings of them stay valid until the old version is dropped.
fn shed_unowned(
    dir: &DomainDir,
    manifest: &Manifest,
    owned: &[u32],
    domain: &str,
) -> Result<(), LoadError> {
    for entry in manifest.shards.iter().filter(|e| !owned.contains(&e.index)) {
        let path = dir.shard_path(&manifest.version, &entry.object);
        if path.is_file() {
            dir.remove_shard(&manifest.version, &entry.object)?;
            tracing::info!(domain, version = %manifest.version, shard = entry.index,
                "removed a shard this node no longer owns");
        }
    }
    Ok(())
}

/// Runs blocking file-system or CPU work off the async workers.
pub async fn blocking<T, F>(what: &str, f: F) -> Result<T, LoadError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, LoadError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LoadError::Task {
            what: what.to_string(),
            detail: e.to_string(),
        })?
}
