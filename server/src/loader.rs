//! One task per domain: poll `CURRENT`, fetch and verify the version it names,
//! swap it in, clean up.
//!
//! Retry policy (`retry.rs`): an interrupted download (network, timeout,
//! throttling) keeps its partial files and is resumed with exponential backoff; a
//! version that fails verification is deleted and tried again only after
//! `retry_failed_after`; a `CURRENT` naming another version is tried at once. A
//! poll error is logged and retried at the next poll. The served version keeps
//! serving through every failure.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tusk_proto::v1::DomainState;
use tusk_store::{Catalog, CurrentPoll, DownloadOptions, Manifest};

use crate::domain::{Domain, ErrorSource};
use crate::error::LoadError;
use crate::health::Health;
use crate::loaded::LoadedVersion;
use crate::local::{DomainDir, KeepPartial};
use crate::metrics::Metrics;
use crate::ownership::ShardOwnership;
use crate::retry::{Failure, RetryPolicy};

/// Most versions kept open in memory per domain (current + previous).
const MAX_VERSIONS_IN_MEMORY: usize = 2;

/// Loader settings taken from the server config.
#[derive(Debug, Clone)]
pub struct LoaderSettings {
    /// Interval between polls.
    pub poll_interval: Duration,
    /// Complete versions kept on local disk.
    pub keep_versions: usize,
    /// Shards downloaded at once.
    pub download_concurrency: usize,
    /// Wait before retrying a failed version that `CURRENT` still names; the cap of
    /// the backoff after interrupted downloads.
    pub retry_failed_after: Duration,
    /// How each shard is fetched: chunk size, parallel ranges, and the server-wide
    /// rate limiter and range permits shared by every domain.
    pub download: DownloadOptions,
}

/// The loader of one domain.
#[derive(Debug)]
pub struct Loader {
    domain: Arc<Domain>,
    catalog: Catalog,
    dir: DomainDir,
    ownership: Arc<dyn ShardOwnership>,
    metrics: Arc<Metrics>,
    health: Health,
    settings: LoaderSettings,
    etag: Option<String>,
    failed: Option<Failure>,
}

/// How a version was obtained, for logs and status.
enum Source {
    Memory,
    LocalDisk,
    Downloaded,
}

impl Loader {
    /// A loader for `domain`.
    pub fn new(
        domain: Arc<Domain>,
        catalog: Catalog,
        dir: DomainDir,
        ownership: Arc<dyn ShardOwnership>,
        metrics: Arc<Metrics>,
        health: Health,
        settings: LoaderSettings,
    ) -> Loader {
        Loader {
            domain,
            catalog,
            dir,
            ownership,
            metrics,
            health,
            settings,
            etag: None,
            failed: None,
        }
    }

    /// Runs until `shutdown` turns true (or its sender is dropped).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        tokio::select! {
            _ = self.start() => {}
            _ = stopped(&mut shutdown) => return,
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = stopped(&mut shutdown) => return,
            }
            tokio::select! {
                _ = self.poll_and_reconcile() => {}
                _ = stopped(&mut shutdown) => return,
            }
        }
    }

    /// Start-up: read `CURRENT`, sweep leftovers (keeping a partial download of
    /// the version `CURRENT` names, to resume it), serve that version (reusing a
    /// complete local copy), or, if the store is unreachable, serve the newest
    /// complete local version.
    async fn start(&mut self) {
        let polled = self.poll().await;
        let target = self.domain.info().store_current.clone();
        let keep = match (&polled, &target) {
            (Err(_), _) => KeepPartial::All,
            (Ok(()), Some(version)) => KeepPartial::Only(version.clone()),
            (Ok(()), None) => KeepPartial::Nothing,
        };
        self.sweep(keep).await;
        let local = self.refresh_local_versions().await;
        if let Err(e) = polled {
            let Some(newest) = local.last().cloned() else {
                return;
            };
            tracing::warn!(domain = %self.domain.name(), version = %newest, error = %e,
                "store unreachable at start; serving the newest complete local version");
            let note = format!(
                "store unreachable at start ({e}); serving the newest local version {newest}"
            );
            self.load_and_swap(&newest, Some(note)).await;
            return;
        }
        self.reconcile().await;
    }

    /// Removes leftovers of interrupted work, except the partial versions `keep`
    /// names.
    async fn sweep(&self, keep: KeepPartial) {
        let dir = self.dir.clone();
        let swept = blocking("sweep data dir", move || {
            dir.create()?;
            dir.sweep(&keep)
        })
        .await;
        match swept {
            Ok(removed) => {
                for path in removed {
                    tracing::info!(domain = %self.domain.name(), path = %path.display(), "removed leftover of interrupted work");
                }
            }
            Err(e) => {
                tracing::warn!(domain = %self.domain.name(), error = %e, "cannot sweep data dir")
            }
        }
    }

    async fn poll_and_reconcile(&mut self) {
        if self.poll().await.is_ok() {
            self.reconcile().await;
        }
    }

    /// Reads `CURRENT` (conditionally) and records what it names.
    async fn poll(&mut self) -> Result<(), String> {
        match self
            .catalog
            .poll_current(self.domain.name(), self.etag.as_deref())
            .await
        {
            Ok(poll) => {
                let mut info = self.domain.info();
                info.last_poll_at = Some(SystemTime::now());
                if matches!(info.last_error, Some((ErrorSource::Poll, _))) {
                    info.last_error = None;
                }
                if let CurrentPoll::Changed { current, etag } = poll {
                    self.etag = etag;
                    info.store_current = current.map(|c| c.version);
                    if info.store_current.is_none() && info.state == DomainState::Loading {
                        info.note = "the store has no CURRENT for this domain yet".into();
                    }
                }
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "poll CURRENT of {} in {}: {e}",
                    self.domain.name(),
                    self.catalog.url()
                );
                tracing::warn!(domain = %self.domain.name(), error = %e, "cannot poll CURRENT; keeping the served version");
                self.domain.info().last_error = Some((ErrorSource::Poll, msg.clone()));
                Err(msg)
            }
        }
    }

    /// Loads and swaps in the version `CURRENT` names, unless it is already served
    /// or it failed recently.
    async fn reconcile(&mut self) {
        let Some(target) = self.domain.info().store_current.clone() else {
            return;
        };
        if self.domain.current_version().as_deref() == Some(target.as_str()) {
            return;
        }
        if self.failed.as_ref().is_some_and(|f| f.holds_back(&target)) {
            return;
        }
        self.load_and_swap(&target, None).await;
    }

    /// Loads `version` and swaps it in; `note` overrides the status note.
    async fn load_and_swap(&mut self, version: &str, note: Option<String>) {
        match self.load(version).await {
            Ok((loaded, source)) => self.swap(loaded, source, note).await,
            Err(e) => self.failed_load(version, e).await,
        }
    }

    async fn load(&self, version: &str) -> Result<(Arc<LoadedVersion>, Source), LoadError> {
        if let Some(held) = self.domain.held_full()
            && let Some(v) = held.find(version)
        {
            return Ok((Arc::clone(v), Source::Memory));
        }
        let (manifest, source) = if self.dir.is_complete(version) {
            let dir = self.dir.clone();
            let v = version.to_string();
            (
                blocking("read local manifest", move || dir.read_manifest(&v)).await?,
                Source::LocalDisk,
            )
        } else {
            let manifest = self
                .catalog
                .manifest(self.domain.name(), version)
                .await
                .map_err(|source| LoadError::Manifest {
                    version: version.to_string(),
                    source,
                })?;
            let owned = self.ownership.owned_shards(&manifest).len();
            crate::map_limit::check_room(&manifest, owned).await?;
            self.download(&manifest).await?;
            (manifest, Source::Downloaded)
        };
        let owned = self.ownership.owned_shards(&manifest);
        let dir = self.dir.clone();
        let write_marker = matches!(source, Source::Downloaded);
        let loaded = blocking("open and verify shards", move || {
            let loaded = LoadedVersion::open(&dir, manifest, &owned)?;
            if write_marker {
                dir.write_manifest(loaded.manifest())?;
            }
            Ok(loaded)
        })
        .await?;
        Ok((Arc::new(loaded), source))
    }

    /// Downloads the owned shards of `manifest` into its version directory, at
    /// most `download_concurrency` at once, resuming what an interrupted attempt
    /// left there. Each download is verified against the manifest's size and CRC32
    /// by the store. After an interruption the shards in flight are let finish (so
    /// their progress is kept); after any other error they are cancelled.
    async fn download(&self, manifest: &Manifest) -> Result<(), LoadError> {
        self.sweep(KeepPartial::Only(manifest.version.clone()))
            .await;
        let dir = self.dir.clone();
        let v = manifest.version.clone();
        blocking("prepare version dir", move || dir.prepare_download(&v)).await?;
        let manifest = Arc::new(manifest.clone());
        let mut pending = self.ownership.owned_shards(&manifest).into_iter();
        let mut running = JoinSet::new();
        let mut first_error: Option<LoadError> = None;
        loop {
            while first_error.is_none() && running.len() < self.settings.download_concurrency {
                let Some(index) = pending.next() else { break };
                let Some(entry) = manifest.shards.get(index as usize) else {
                    continue;
                };
                let dest = self.dir.shard_path(&manifest.version, &entry.object);
                let object = entry.object.clone();
                let catalog = self.catalog.clone();
                let manifest = Arc::clone(&manifest);
                let options = self.settings.download.clone();
                running.spawn(async move {
                    catalog
                        .download_shard_with(&manifest, index, &dest, &options)
                        .await
                        .map(|report| {
                            // A resumed download is worth an operator's attention (and
                            // lets a test see the resume): info; a plain one is routine.
                            if report.reused_bytes > 0 {
                                tracing::info!(version = %manifest.version, shard = index,
                                    fetched = report.fetched_bytes, reused = report.reused_bytes,
                                    resumed = true, "shard downloaded");
                            } else {
                                tracing::debug!(version = %manifest.version, shard = index,
                                    fetched = report.fetched_bytes, reused = report.reused_bytes, "shard downloaded");
                            }
                        })
                        .map_err(|source| LoadError::Download {
                            version: manifest.version.clone(),
                            shard: index,
                            object,
                            source,
                        })
                });
            }
            let Some(joined) = running.join_next().await else {
                return first_error.map_or(Ok(()), Err);
            };
            let result = joined.map_err(|e| LoadError::Task {
                what: format!("download of version {}", manifest.version),
                detail: e.to_string(),
            });
            if let Err(e) = result.and_then(|r| r) {
                // Bad bytes outrank an interruption: the version must be refetched.
                if !e.is_interrupted() {
                    running.shutdown().await;
                    return Err(e);
                }
                first_error.get_or_insert(e);
            }
        }
    }

    async fn swap(&mut self, loaded: Arc<LoadedVersion>, source: Source, note: Option<String>) {
        let version = loaded.version().to_string();
        let limit = self.settings.keep_versions.min(MAX_VERSIONS_IN_MEMORY);
        let how = match source {
            Source::Memory => "swapped back to a version held in memory",
            Source::LocalDisk => "reopened from local disk (verified, not downloaded)",
            Source::Downloaded => "downloaded and verified",
        };
        // The new version's marker is on disk already: list it before readers can
        // see the swap.
        self.refresh_local_versions().await;
        let old = {
            // Swap under the status lock so a status never mixes before and after.
            let mut info = self.domain.info();
            let before = self.domain.current_version();
            self.metrics
                .swapped(self.domain.name(), before.as_deref(), &version);
            let old = self.domain.swap(loaded, limit);
            info.state = DomainState::Serving;
            info.swaps += 1;
            if matches!(info.last_error, Some((ErrorSource::Load, _))) {
                info.last_error = None;
            }
            if info.failed_version.as_deref() == Some(version.as_str()) {
                info.failed_version = None;
            }
            info.note = note.unwrap_or_else(|| format!("{version}: {how}"));
            old
        };
        tracing::info!(domain = %self.domain.name(), version = %version, previous = ?old, how, "swapped version");
        if self.failed.as_ref().is_some_and(|f| f.version() == version) {
            self.failed = None;
        }
        self.health.domain_serving(self.domain.name()).await;
        self.remove_old_versions().await;
    }

    async fn failed_load(&mut self, version: &str, error: LoadError) {
        let interrupted = error.is_interrupted();
        let policy = RetryPolicy::new(self.settings.retry_failed_after);
        let failure = Failure::record(self.failed.as_ref(), version, interrupted, policy);
        let message = failure_message(&error, &failure, interrupted);
        tracing::warn!(domain = %self.domain.name(), version = %version, error = %error,
            interrupted, retry_in = ?failure.wait(), "version load failed; keeping the served version");
        self.metrics.load_failed(self.domain.name());
        self.failed = Some(failure);
        // Clean up first, so a status never shows a failure whose leftovers are still
        // on disk. An interrupted download keeps its partial files to resume.
        let held = self.domain.held_full();
        if !interrupted && held.as_ref().is_none_or(|h| h.find(version).is_none()) {
            let dir = self.dir.clone();
            let v = version.to_string();
            if let Err(e) = blocking("remove failed version", move || dir.remove_version(&v)).await
            {
                tracing::warn!(domain = %self.domain.name(), version = %version, error = %e,
                    "cannot remove failed version");
            }
        }
        self.refresh_local_versions().await;
        let mut info = self.domain.info();
        info.failed_version = Some(version.to_string());
        info.last_error = Some((ErrorSource::Load, message));
        if info.state != DomainState::Serving {
            // Still trying (and resuming) after an interruption: loading, not failed.
            info.state = if interrupted {
                DomainState::Loading
            } else {
                DomainState::Failed
            };
        }
    }

    /// Keeps the held versions plus the newest others, `keep_versions` in all;
    /// deletes the rest from local disk.
    async fn remove_old_versions(&self) {
        let held = self.domain.held_full().map(|h| h.ids()).unwrap_or_default();
        let keep_n = self.settings.keep_versions.max(1);
        let dir = self.dir.clone();
        let result = blocking("remove old versions", move || {
            let mut keep: Vec<String> = held.into_iter().take(keep_n).collect();
            let complete = dir.complete_versions()?;
            for v in complete.iter().rev() {
                if keep.len() >= keep_n {
                    break;
                }
                if !keep.contains(v) {
                    keep.push(v.clone());
                }
            }
            let mut removed = Vec::new();
            for v in complete {
                if !keep.contains(&v) {
                    dir.remove_version(&v)?;
                    removed.push(v);
                }
            }
            Ok(removed)
        })
        .await;
        match result {
            Ok(removed) => {
                for v in removed {
                    tracing::info!(domain = %self.domain.name(), version = %v, "removed old local version");
                }
            }
            Err(e) => {
                tracing::warn!(domain = %self.domain.name(), error = %e, "cannot remove old versions")
            }
        }
        self.refresh_local_versions().await;
    }

    async fn refresh_local_versions(&self) -> Vec<String> {
        let dir = self.dir.clone();
        match blocking("list local versions", move || dir.complete_versions()).await {
            Ok(versions) => {
                self.domain.info().local_versions = versions.clone();
                versions
            }
            Err(e) => {
                tracing::warn!(domain = %self.domain.name(), error = %e, "cannot list local versions");
                Vec::new()
            }
        }
    }
}

/// The status line of a failed load: what failed, and when the next try comes.
fn failure_message(error: &LoadError, failure: &Failure, interrupted: bool) -> String {
    let wait = humantime::format_duration(failure.wait());
    match error {
        LoadError::Download {
            version,
            shard,
            object,
            source,
        } if interrupted => format!(
            "version {version}: download of shard {shard} ({object}) interrupted: {source}; will resume in {wait} (attempt {})",
            failure.attempts()
        ),
        _ if interrupted => format!(
            "{error}; will retry in {wait} (attempt {})",
            failure.attempts()
        ),
        _ => format!("{error}; will retry in {wait} unless CURRENT moves"),
    }
}

/// Runs blocking file-system or CPU work off the async workers.
async fn blocking<T, F>(what: &str, f: F) -> Result<T, LoadError>
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

/// Resolves when shutdown is requested or its sender is gone.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
