//! The shared state of one domain: the versions it serves (swapped atomically, no
//! lock on the read path) and what the status RPC reports about it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use tusk_proto::v1::DomainState;

use crate::error::ReadError;
use crate::loaded::{HeldVersions, LoadedVersion};
use crate::metrics::KeyCounters;

/// Where the last error came from (a successful poll clears only a poll error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// Reading `CURRENT` from the store.
    Poll,
    /// Loading (downloading, verifying, opening) a version.
    Load,
}

/// Status facts about a domain, updated by its loader.
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
    /// How the current version was obtained.
    pub note: String,
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
}

impl Domain {
    /// A domain with nothing loaded yet.
    pub fn new(name: &str, store_url: &str, keys: KeyCounters) -> Domain {
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

    /// The held versions (owned), for the loader and status.
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

    /// Makes `loaded` current, keeping up to `limit` versions in memory in all.
    /// Returns the version that was current before.
    pub fn swap(&self, loaded: Arc<LoadedVersion>, limit: usize) -> Option<String> {
        let old = self.served.load_full();
        let held = HeldVersions::swap_in(loaded, old.as_deref(), limit);
        self.served.store(Some(Arc::new(held)));
        old.map(|h| h.current().version().to_string())
    }

    /// Status facts, locked for reading or updating (never on the read path).
    pub fn info(&self) -> MutexGuard<'_, DomainInfo> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data.
        self.info
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hit/miss counters.
    pub fn keys(&self) -> &KeyCounters {
        &self.keys
    }
}
