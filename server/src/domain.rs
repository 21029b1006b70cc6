//! The shared state of one domain: the versions it serves (swapped atomically, no
//! lock on the read path), what the status RPC reports about it, and the two small
//! queues that connect the read path, the scrubber and the loader (shards suspected
//! of damage, shards to re-download).
//!
//! Status facts change only through the named methods below, each one event of the
//! domain's life (a poll, a swap, a failure, a repair), so the rules of what clears
//! what live in one place.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use tokio::sync::Notify;

use crate::activity::{Activity, EventKind};
use crate::error::ReadError;
use crate::loaded::{HeldVersions, LoadedVersion};
use crate::metrics::KeyCounters;

/// Where the last error came from: each kind is cleared by its own success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// Reading `CURRENT` from the store (cleared by a good poll).
    Store,
    /// Loading a version (cleared by a swap).
    Load,
    /// A served shard no longer matches its manifest (cleared by its repair).
    Scrub,
}

/// Where a domain is in its life; the Status RPC maps it to the protobuf enum in
/// one place (`status.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainState {
    /// Nothing served yet; a version is being loaded (or waited for).
    Loading,
    /// A version is served.
    Serving,
    /// Nothing served, and loading what CURRENT names failed.
    Failed,
}

/// Status facts about a domain.
#[derive(Debug, Clone)]
pub struct DomainInfo {
    /// Lifecycle state.
    pub state: DomainState,
    /// The last error and where it came from.
    pub last_error: Option<(ErrorSource, String)>,
    /// The version whose load failed most recently (cleared by loading it).
    pub failed_version: Option<String>,
    /// Swaps since start.
    pub swaps: u64,
    /// Last successful poll of `CURRENT`.
    pub last_poll_at: Option<SystemTime>,
    /// Complete versions on local disk, sorted.
    pub local_versions: Vec<String>,
    /// What `CURRENT` named at the last successful poll.
    pub store_current: Option<String>,
    /// How the current version was obtained, or what the loader is doing.
    pub note: String,
}

/// One shard of one version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShardRef {
    /// Version id.
    pub version: String,
    /// Shard number.
    pub shard: u32,
}

/// The held versions of a domain, pinned for the duration of one request.
pub struct HeldGuard(arc_swap::Guard<Option<Arc<HeldVersions>>>);

impl std::ops::Deref for HeldGuard {
    type Target = HeldVersions;

    fn deref(&self) -> &HeldVersions {
        self.0
            .as_deref()
            .expect("a HeldGuard is only built over a non-empty slot")
    }
}

/// One configured domain.
#[derive(Debug)]
pub struct Domain {
    name: String,
    store_url: String,
    served: ArcSwapOption<HeldVersions>,
    info: Mutex<DomainInfo>,
    keys: KeyCounters,
    /// Shards a read found damaged, for the scrubber to check first.
    suspects: Mutex<BTreeSet<ShardRef>>,
    /// Wakes the (server-wide) scrubber.
    scrub_wake: Arc<Notify>,
    /// Shards to re-download; `true` once the loader started on one.
    repairs: Mutex<BTreeMap<ShardRef, bool>>,
    /// Wakes this domain's loader for a repair.
    repair_wake: Notify,
    /// Downloads in progress, recent errors and moves.
    activity: Arc<Activity>,
}

impl Domain {
    /// A domain with nothing loaded yet; `scrub_wake` wakes the scrubber.
    pub fn new(name: &str, store_url: &str, keys: KeyCounters, scrub_wake: Arc<Notify>) -> Domain {
        Domain {
            name: name.to_string(),
            store_url: store_url.to_string(),
            served: ArcSwapOption::empty(),
            info: Mutex::new(DomainInfo {
                state: DomainState::Loading,
                last_error: None,
                failed_version: None,
                swaps: 0,
                last_poll_at: None,
                local_versions: Vec::new(),
                store_current: None,
                note: String::new(),
            }),
            keys,
            suspects: Mutex::default(),
            scrub_wake,
            repairs: Mutex::default(),
            repair_wake: Notify::new(),
            activity: Arc::default(),
        }
    }

    /// Domain name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Store URL.
    pub fn store_url(&self) -> &str {
        &self.store_url
    }

    /// The held versions, for one request: load once, answer everything from it.
    pub fn held(&self) -> Result<HeldGuard, ReadError> {
        let guard = self.served.load();
        if guard.is_some() {
            Ok(HeldGuard(guard))
        } else {
            Err(ReadError::NotLoaded {
                domain: self.name.clone(),
                reason: self.info().last_error.as_ref().map(|(_, e)| e.clone()),
            })
        }
    }

    /// The held versions (owned), for the loader, the scrubber and status.
    pub fn held_full(&self) -> Option<Arc<HeldVersions>> {
        self.served.load_full()
    }

    /// The version answering requests without an explicit version.
    pub fn current_version(&self) -> Option<String> {
        self.served
            .load()
            .as_ref()
            .map(|h| h.current().version().to_string())
    }

    /// Downloads in progress, recent errors and moves (the status reads them).
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// Hit/miss counters.
    pub fn keys(&self) -> &KeyCounters {
        &self.keys
    }

    /// Status facts and held versions read together (the loader swaps under the
    /// info lock, so this is one consistent view).
    pub fn snapshot(&self) -> (DomainInfo, Option<Arc<HeldVersions>>) {
        let info = self.info();
        (info.clone(), self.held_full())
    }

    /// What `CURRENT` named at the last successful poll.
    pub fn store_current(&self) -> Option<String> {
        self.info().store_current.clone()
    }

    /// A poll of `CURRENT` was answered; `changed` carries what it names when it
    /// changed (`Some(None)`: there is no `CURRENT`).
    pub fn polled(&self, changed: Option<Option<String>>) {
        let mut info = self.info();
        info.last_poll_at = Some(SystemTime::now());
        if let Some(current) = changed {
            info.store_current = current;
        }
    }

    /// The store reads fine again: clears a store error. True when there was one.
    pub fn store_ok(&self) -> bool {
        let mut info = self.info();
        let had = matches!(info.last_error, Some((ErrorSource::Store, _)));
        if had {
            info.last_error = None;
        }
        had
    }

    /// The store cannot be read (or lost `CURRENT`). Returns true when this
    /// differs from what is already shown (so the caller logs only changes).
    ///
    /// A failed load (an interrupted download, say) stays in `last_error`: it names
    /// the version and what happens next, and the unreadable store is most often
    /// its cause. The store's error then goes to the note.
    pub fn store_failed(&self, message: String) -> bool {
        let mut info = self.info();
        if matches!(info.last_error, Some((ErrorSource::Load, _))) {
            let note = format!("store cannot be read: {message}");
            let new = info.note != note;
            if new {
                self.activity.error(EventKind::StoreError, "", &message);
            }
            info.note = note;
            return new;
        }
        let new = info.last_error.as_ref().map(|(_, m)| m) != Some(&message);
        if new {
            self.activity.error(EventKind::StoreError, "", &message);
        }
        info.last_error = Some((ErrorSource::Store, message));
        new
    }

    /// A note on what the loader does (downloading, abandoning, falling back).
    pub fn noted(&self, note: String) {
        self.info().note = note;
    }

    /// Makes `loaded` current, keeping up to `limit` versions in memory, and
    /// records the swap. Returns the version that was current before.
    pub fn swapped_in(
        &self,
        loaded: Arc<LoadedVersion>,
        limit: usize,
        note: String,
    ) -> Option<String> {
        // Swap under the status lock so a status never mixes before and after.
        let mut info = self.info();
        let version = loaded.version().to_string();
        let old = self.served.load_full();
        let held = HeldVersions::swap_in(loaded, old.as_deref(), limit);
        self.served.store(Some(Arc::new(held)));
        info.state = DomainState::Serving;
        info.swaps += 1;
        if matches!(info.last_error, Some((ErrorSource::Load, _))) {
            info.last_error = None;
        }
        if info.failed_version.as_deref() == Some(version.as_str()) {
            info.failed_version = None;
        }
        let old = old.map(|h| h.current().version().to_string());
        // The note names the version first; the log entry has it in its own field.
        let how = note.strip_prefix(&format!("{version}: ")).unwrap_or(&note);
        self.activity.moved(
            EventKind::of_swap(old.as_deref(), &version),
            &version,
            &match &old {
                Some(old) => format!("{how}, replacing {old}"),
                None => how.to_string(),
            },
        );
        info.note = note;
        // Shards reopened from disk are re-read soon.
        self.scrub_wake.notify_one();
        old
    }

    /// Puts `repaired` in place of the held version of the same id (a shard was
    /// downloaded again) and clears the scrub error. False when that version is no
    /// longer held (nothing changes).
    pub fn repaired(&self, repaired: Arc<LoadedVersion>, note: String) -> bool {
        let mut info = self.info();
        let Some(held) = self.served.load_full().and_then(|h| h.replace(repaired)) else {
            return false;
        };
        self.served.store(Some(Arc::new(held)));
        if matches!(info.last_error, Some((ErrorSource::Scrub, _))) {
            info.last_error = None;
        }
        info.note = note;
        true
    }

    /// Loading `version` failed; `interrupted` when it will be resumed.
    pub fn load_failed(&self, version: &str, message: String, interrupted: bool) {
        let mut info = self.info();
        self.activity.error(EventKind::LoadError, version, &message);
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

    /// The complete versions on local disk changed.
    pub fn set_local_versions(&self, versions: Vec<String>) {
        self.info().local_versions = versions;
    }

    /// A read hit a damaged record of `at`: queue it for the scrubber (once) and
    /// wake it. Cheap; called on the read path's error branch.
    pub fn read_hit_damage(&self, at: ShardRef) {
        let mut suspects = lock(&self.suspects);
        if suspects.insert(at) {
            self.scrub_wake.notify_one();
        }
    }

    /// Takes the shards reads found damaged.
    pub fn take_suspects(&self) -> Vec<ShardRef> {
        std::mem::take(&mut *lock(&self.suspects))
            .into_iter()
            .collect()
    }

    /// The scrubber found `at` no longer matching its manifest: report it and ask
    /// the loader to download it again.
    pub fn shard_damaged(&self, at: ShardRef, message: String) {
        self.activity
            .error(EventKind::ScrubError, &at.version, &message);
        self.info().last_error = Some((ErrorSource::Scrub, message));
        lock(&self.repairs).entry(at).or_insert(false);
        self.repair_wake.notify_one();
    }

    /// A served shard is damaged in the store itself (it matches the manifest but
    /// fails the format's verification): only reported, a download cannot help.
    pub fn stored_shard_bad(&self, message: String) {
        self.activity.error(EventKind::ScrubError, "", &message);
        self.info().last_error = Some((ErrorSource::Scrub, message));
    }

    /// True while `at` waits for or undergoes a repair.
    pub fn repair_pending(&self, at: &ShardRef) -> bool {
        lock(&self.repairs).contains_key(at)
    }

    /// The next repair to start, marked started.
    pub fn next_repair(&self) -> Option<ShardRef> {
        let mut repairs = lock(&self.repairs);
        let (at, started) = repairs.iter_mut().find(|(_, started)| !**started)?;
        *started = true;
        Some(at.clone())
    }

    /// A repair ended (healed or not): `at` may be checked and queued again.
    pub fn repair_finished(&self, at: &ShardRef) {
        lock(&self.repairs).remove(at);
    }

    /// Resolves when a repair was asked for since the last call.
    pub async fn repair_wanted(&self) {
        self.repair_wake.notified().await
    }

    fn info(&self) -> MutexGuard<'_, DomainInfo> {
        lock(&self.info)
    }
}

/// Locks `m`; a poisoned lock only means a panic elsewhere mid-update of plain data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
