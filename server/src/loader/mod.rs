//! One task per domain: poll `CURRENT`, serve what is at hand, download what
//! `CURRENT` names, swap it in, repair damaged shards, clean up.
//!
//! The task is an event loop: a poll timer, the end of a download, the end of a
//! repair, a repair request (from the scrubber) and shutdown. A download runs as its
//! own task, so polling goes on meanwhile and a download whose version `CURRENT` no
//! longer names is abandoned (aborted; its partial files stay for a later resume).
//! After every event the loader asks `plan.rs` for its next steps and carries them
//! out; `fetch.rs` does the downloading and opening, after `reuse.rs` has linked
//! the shards a version on disk already holds.
//!
//! Retry policy (`retry.rs`): an interrupted download (network, timeout,
//! throttling) keeps its partial files and is resumed with exponential backoff; a
//! version whose stored copy fails verification is deleted and tried again only
//! after `retry_failed_after`; a damaged *local* copy is removed and downloaded
//! again at once; a `CURRENT` naming another version is tried at once. A store that
//! cannot be read is reported (status, log, `tusk_store_errors_total`) and retried
//! at the next poll. The served version keeps serving through every failure.

mod background;
mod disk;
mod fetch;
mod plan;
mod poll;
mod repair;
mod reuse;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tusk_store::{Catalog, DownloadOptions};

use crate::activity::EventKind;
use crate::data_dir::DomainDir;
use crate::domain::{Domain, ShardRef};
use crate::error::LoadError;
use crate::health::Health;
use crate::loaded::LoadedVersion;
use crate::local_shard::Warm;
use crate::metrics::Metrics;
use crate::ownership::Ownership;
use crate::retry::{Backoff, LoadFailure};

pub use fetch::Fetcher;
use plan::{Step, View};

/// Most versions kept open in memory per domain (current + previous).
const MAX_VERSIONS_IN_MEMORY: usize = 2;
/// Most steps taken after one event (each step changes what the next one sees).
const MAX_STEPS: usize = 8;

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

/// A running background job and what it works on.
struct Running<K, T> {
    key: K,
    handle: JoinHandle<Result<T, LoadError>>,
}

type Download = Running<String, Arc<LoadedVersion>>;
type Repair = Running<ShardRef, Arc<LoadedVersion>>;

/// What woke the loader.
enum Event {
    Tick,
    Downloaded(String, Result<Arc<LoadedVersion>, LoadError>),
    Repaired(ShardRef, Result<Arc<LoadedVersion>, LoadError>),
    RepairWanted,
}

/// The loader of one domain.
pub struct Loader {
    domain: Arc<Domain>,
    catalog: Catalog,
    fetcher: Fetcher,
    metrics: Arc<Metrics>,
    health: Health,
    settings: LoaderSettings,
    etag: Option<String>,
    /// `CURRENT` was read at least once (so the target is known).
    current_known: bool,
    /// `CURRENT` existed at some poll.
    current_seen: bool,
    failed: Option<LoadFailure>,
    /// Complete local versions, as last listed.
    local: Vec<String>,
    download: Option<Download>,
    repair: Option<Repair>,
}

impl Loader {
    /// A loader for `domain`.
    pub fn new(
        domain: Arc<Domain>,
        catalog: Catalog,
        dir: DomainDir,
        ownership: Arc<Ownership>,
        metrics: Arc<Metrics>,
        health: Health,
        settings: LoaderSettings,
    ) -> Loader {
        let fetcher = Fetcher {
            domain: domain.name().to_string(),
            catalog: catalog.clone(),
            dir,
            ownership,
            concurrency: settings.download_concurrency.max(1),
            options: settings.download.clone(),
            metrics: Arc::clone(&metrics),
            activity: Arc::clone(domain.activity()),
        };
        Loader {
            domain,
            catalog,
            fetcher,
            metrics,
            health,
            settings,
            etag: None,
            current_known: false,
            current_seen: false,
            failed: None,
            local: Vec::new(),
            download: None,
            repair: None,
        }
    }

    /// Runs until `shutdown` turns true (or its sender is dropped).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        tokio::select! {
            _ = self.start() => {}
            _ = stopped(&mut shutdown) => return self.abort_jobs(),
        }
        let mut tick = tokio::time::interval(self.settings.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let event = tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = tick.tick() => Event::Tick,
                (v, result) = join(&mut self.download) => Event::Downloaded(v, result),
                (at, result) = join(&mut self.repair) => Event::Repaired(at, result),
                _ = self.domain.repair_wanted() => Event::RepairWanted,
            };
            tokio::select! {
                _ = self.handle(event) => {}
                _ = stopped(&mut shutdown) => break,
            }
        }
        self.abort_jobs();
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::Tick => self.poll().await,
            Event::Downloaded(version, result) => self.downloaded(version, result).await,
            Event::Repaired(at, result) => self.repaired(at, result),
            Event::RepairWanted => {}
        }
        self.start_repair();
        self.step().await;
    }

    /// Start-up: read `CURRENT`, sweep leftovers (keeping a partial download of
    /// the version `CURRENT` names, to resume it), then the usual steps: serve
    /// `CURRENT`'s version from local disk if it is there, else serve the newest
    /// complete local version while `CURRENT`'s downloads.
    async fn start(&mut self) {
        // Listed first: whether a missing CURRENT is an error depends on them.
        self.refresh_local().await;
        self.poll().await;
        let target = self.domain.store_current();
        let keep = plan::partial_to_keep(target.as_deref(), self.current_known);
        disk::sweep(&self.fetcher.dir, self.domain.name(), keep).await;
        self.refresh_local().await;
        self.step().await;
    }

    /// Carries out the steps `plan::next_step` asks for until it is idle.
    async fn step(&mut self) {
        for _ in 0..MAX_STEPS {
            let target = self.domain.store_current();
            let held = self.domain.held_full().map(|h| h.ids()).unwrap_or_default();
            let served = self.domain.current_version();
            let served_missing = self
                .domain
                .held_full()
                .is_some_and(|h| !h.current().missing().is_empty());
            let view = View {
                target: target.as_deref(),
                served: served.as_deref(),
                held: &held,
                local: &self.local,
                downloading: self.download.as_ref().map(|d| d.key.as_str()),
                held_back: target
                    .as_deref()
                    .is_some_and(|t| self.failed.as_ref().is_some_and(|f| f.holds_back(t))),
                served_missing,
            };
            match plan::next_step(&view) {
                Step::Idle => return,
                Step::Abandon(version) => self.abandon(&version, target.as_deref()),
                Step::SwapHeld(version) => {
                    let held = self.domain.held_full();
                    if let Some(loaded) = held.as_ref().and_then(|h| h.find(&version)) {
                        let note = format!("{version}: swapped back to a version held in memory");
                        self.swap(Arc::clone(loaded), note).await;
                    }
                }
                Step::OpenLocal(version) => {
                    let note =
                        format!("{version}: reopened from local disk (checked, not downloaded)");
                    self.open_local(&version, note).await;
                }
                Step::Fallback(version) => {
                    let note = self.fallback_note(&version, target.as_deref());
                    self.open_local(&version, note).await;
                }
                Step::Download(version) => {
                    tracing::info!(domain = %self.domain.name(), version = %version, "downloading version");
                    if self.failed.as_ref().is_some_and(|f| f.version() == version) {
                        self.metrics.download_retried(self.domain.name());
                    }
                    let handle = tokio::spawn(self.fetcher.clone().download(version.clone()));
                    self.download = Some(Running {
                        key: version,
                        handle,
                    });
                }
            }
        }
    }

    fn fallback_note(&self, version: &str, target: Option<&str>) -> String {
        match target {
            _ if !self.current_known => {
                format!("store unreachable at start; serving the newest local version {version}")
            }
            None => format!("the store has no CURRENT; serving the newest local version {version}"),
            Some(t) => format!("serving local version {version} while {t} downloads"),
        }
    }

    /// Stops the download of `version`: `CURRENT` no longer names it.
    fn abandon(&mut self, version: &str, target: Option<&str>) {
        if let Some(job) = self.download.take() {
            job.handle.abort();
        }
        let why = match target {
            Some(t) => format!("CURRENT names {t} now; partial files kept"),
            None => "CURRENT names no version now; partial files kept".to_string(),
        };
        self.domain.activity().moved(
            EventKind::Abandon,
            version,
            &format!("download stopped: {why}"),
        );
        tracing::info!(domain = %self.domain.name(), version = %version, current = ?target,
            "abandoning the download of version {version}: CURRENT no longer names it (partial files kept)");
    }

    /// Opens a complete local version and swaps to it; a damaged local copy is
    /// marked partial (its bad file removed) so the next step downloads it again.
    async fn open_local(&mut self, version: &str, note: String) {
        // While another version answers, warm the index before the swap; at a
        // start, answer at once and page the index in after the swap.
        let warm = Warm::for_swap(self.domain.held_full().is_some());
        match self.fetcher.open_local(version, warm).await {
            Ok(loaded) => {
                if warm == Warm::Ahead {
                    // Answering already; the index comes in behind, at low priority.
                    let warming = Arc::clone(&loaded);
                    tokio::spawn(background::run("warm indexes", move || {
                        Ok(warming.touch_indexes())
                    }));
                }
                self.swap(loaded, note).await;
            }
            Err(e) => {
                tracing::warn!(domain = %self.domain.name(), version = %version, error = %e,
                    "local copy is damaged; removing it to download it again");
                self.metrics.load_failed(self.domain.name());
                disk::unmark(&self.fetcher.dir, version, e.local_path()).await;
                self.refresh_local().await;
            }
        }
    }

    /// A download ended: swap it in if `CURRENT` (read again now) still names it.
    async fn downloaded(&mut self, version: String, result: Result<Arc<LoadedVersion>, LoadError>) {
        if result.is_ok() {
            // Read CURRENT again right before the swap: never swap to a version it
            // stopped naming since the last poll.
            self.poll().await;
        }
        let target = self.domain.store_current();
        match result {
            Ok(loaded) if plan::may_swap_download(&version, target.as_deref()) => {
                let note = format!("{version}: downloaded and verified");
                self.swap(loaded, note).await;
            }
            Ok(_) => {
                tracing::info!(domain = %self.domain.name(), version = %version, current = ?target,
                    "downloaded version {version} is no longer CURRENT; not swapping, removing it");
                disk::remove_version(&self.fetcher.dir, self.domain.name(), &version).await;
                self.domain.activity().moved(
                    EventKind::Drop,
                    &version,
                    "downloaded, but CURRENT no longer names it: removed",
                );
                self.refresh_local().await;
            }
            Err(e) => self.failed_load(&version, e).await,
        }
    }

    async fn swap(&mut self, loaded: Arc<LoadedVersion>, note: String) {
        let version = loaded.version().to_string();
        let limit = self.settings.keep_versions.min(MAX_VERSIONS_IN_MEMORY);
        // The new version's marker is on disk already: list it before readers can
        // see the swap.
        self.refresh_local().await;
        let old = self.domain.swapped_in(loaded, limit, note.clone());
        self.metrics
            .swapped(self.domain.name(), old.as_deref(), &version);
        tracing::info!(domain = %self.domain.name(), version = %version, previous = ?old, how = %note, "swapped version");
        if self.failed.as_ref().is_some_and(|f| f.version() == version) {
            self.failed = None;
        }
        self.health.domain_serving(self.domain.name()).await;
        self.remove_old_versions().await;
    }

    async fn failed_load(&mut self, version: &str, error: LoadError) {
        let interrupted = error.is_interrupted();
        let policy = Backoff::new(self.settings.retry_failed_after);
        let failure = LoadFailure::record(self.failed.as_ref(), version, interrupted, policy);
        let message = failure_message(&error, &failure, interrupted);
        tracing::warn!(domain = %self.domain.name(), version = %version, error = %error,
            interrupted, retry_in = ?failure.wait(), "version load failed; keeping the served version");
        self.metrics.load_failed(self.domain.name());
        self.failed = Some(failure);
        // Clean up first, so a status never shows a failure whose leftovers are still
        // on disk. An interrupted download keeps its partial files to resume.
        let held = self.domain.held_full();
        if !interrupted && held.as_ref().is_none_or(|h| h.find(version).is_none()) {
            disk::remove_version(&self.fetcher.dir, self.domain.name(), version).await;
        }
        self.refresh_local().await;
        self.domain.load_failed(version, message, interrupted);
    }

    /// Keeps the held versions, `CURRENT`'s and the newest others, `keep_versions`
    /// in all; deletes the rest from local disk.
    async fn remove_old_versions(&mut self) {
        let held = self.domain.held_full().map(|h| h.ids()).unwrap_or_default();
        let target = self.domain.store_current();
        let plan = plan::plan_local(
            &self.local,
            &held,
            target.as_deref(),
            self.settings.keep_versions.max(1),
        );
        for (version, reason) in plan {
            if reason == plan::LocalReason::Expired {
                disk::remove_version(&self.fetcher.dir, self.domain.name(), &version).await;
                self.domain.activity().moved(
                    EventKind::Drop,
                    &version,
                    "older than the versions kept: removed from local disk",
                );
                tracing::info!(domain = %self.domain.name(), version = %version, "removed old local version");
            }
        }
        self.refresh_local().await;
    }

    async fn refresh_local(&mut self) {
        if let Some(versions) = disk::complete_versions(&self.fetcher.dir, self.domain.name()).await
        {
            self.domain.set_local_versions(versions.clone());
            self.local = versions;
        }
    }

    fn abort_jobs(&mut self) {
        for handle in [
            self.download.take().map(|j| j.handle),
            self.repair.take().map(|j| j.handle),
        ]
        .into_iter()
        .flatten()
        {
            handle.abort();
        }
    }
}

/// Waits for the job in `slot` (forever when there is none), then empties it.
/// Cancel-safe: dropping the wait leaves the job running.
async fn join<K: Clone, T>(slot: &mut Option<Running<K, T>>) -> (K, Result<T, LoadError>) {
    let Some(job) = slot.as_mut() else {
        return std::future::pending().await;
    };
    let joined = (&mut job.handle).await;
    let key = job.key.clone();
    *slot = None;
    let result = joined.unwrap_or_else(|e| {
        Err(LoadError::Task {
            what: "download".to_string(),
            detail: e.to_string(),
        })
    });
    (key, result)
}

/// The status line of a failed load: what failed, and when the next try comes.
fn failure_message(error: &LoadError, failure: &LoadFailure, interrupted: bool) -> String {
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

/// Resolves when shutdown is requested or its sender is gone.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
