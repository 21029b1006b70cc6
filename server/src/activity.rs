//! What a domain is doing and has lately done, for the status (RPC and page): the
//! downloads in progress with their byte and shard counts, and two bounded logs,
//! the last errors and the moves this node made (swaps, rollbacks, dropped
//! versions, abandoned downloads).
//!
//! The loader writes, status readers take snapshots; every lock is held only to
//! copy a few small values. A download's counters are atomics the download task
//! bumps as shards complete, so reading progress never waits on a download.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Entries kept in each log (older ones are dropped).
pub const LOG_LEN: usize = 20;

/// A log that keeps the newest `cap` entries, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring<T> {
    cap: usize,
    items: VecDeque<T>,
}

impl<T: Clone> Ring<T> {
    /// An empty log of at most `cap` entries (at least one).
    pub fn new(cap: usize) -> Ring<T> {
        Ring {
            cap: cap.max(1),
            items: VecDeque::new(),
        }
    }

    /// Appends `item`, dropping the oldest entry when full.
    pub fn push(&mut self, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// The newest entry.
    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    /// The entries, oldest first.
    pub fn to_vec(&self) -> Vec<T> {
        self.items.iter().cloned().collect()
    }
}

/// What kind of entry a log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `CURRENT` could not be read.
    StoreError,
    /// A version could not be loaded.
    LoadError,
    /// A served shard no longer matches its manifest (or is bad in the store).
    ScrubError,
    /// Swapped to a newer version than the one served before (or the first one).
    Swap,
    /// Swapped to an older version than the one served before.
    Rollback,
    /// A version's local copy was deleted.
    Drop,
    /// A download was stopped: `CURRENT` no longer names its version.
    Abandon,
}

impl EventKind {
    /// The name the status uses (`store-error`, `swap`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::StoreError => "store-error",
            EventKind::LoadError => "load-error",
            EventKind::ScrubError => "scrub-error",
            EventKind::Swap => "swap",
            EventKind::Rollback => "rollback",
            EventKind::Drop => "drop",
            EventKind::Abandon => "abandon",
        }
    }

    /// The kind of a swap from `from` to `to`: version ids sort by time, so a
    /// smaller id is a rollback.
    pub fn of_swap(from: Option<&str>, to: &str) -> EventKind {
        match from {
            Some(from) if to < from => EventKind::Rollback,
            _ => EventKind::Swap,
        }
    }
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
    /// The version concerned (empty when none is).
    pub version: String,
    /// What happened, in words.
    pub message: String,
}

/// The live counters of one download in progress.
#[derive(Debug)]
pub struct DownloadCell {
    version: String,
    bytes_total: u64,
    shards_total: u32,
    started_at: SystemTime,
    started: Instant,
    bytes_done: AtomicU64,
    shards_done: AtomicU32,
}

impl DownloadCell {
    /// One shard of `bytes` bytes is on local disk and verified.
    pub fn shard_done(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
        self.shards_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// A download in progress, as read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadProgress {
    /// The version downloaded.
    pub version: String,
    /// Bytes of completed shards (fetched now or kept from an earlier attempt).
    pub bytes_done: u64,
    /// Bytes of every shard this node downloads for the version (from the manifest).
    pub bytes_total: u64,
    /// Shards completed.
    pub shards_done: u32,
    /// Shards this node downloads for the version.
    pub shards_total: u32,
    /// When the download started.
    pub started_at: SystemTime,
    /// Time since it started.
    pub elapsed: Duration,
}

/// Removes its download from the list of those in progress when dropped (the
/// download task ended, failed or was aborted).
#[derive(Debug)]
pub struct DownloadGuard {
    cell: Arc<DownloadCell>,
    activity: Arc<Activity>,
}

impl DownloadGuard {
    /// The counters to bump.
    pub fn cell(&self) -> &DownloadCell {
        &self.cell
    }
}

impl Drop for DownloadGuard {
    fn drop(&mut self) {
        lock(&self.activity.downloads).retain(|c| !Arc::ptr_eq(c, &self.cell));
    }
}

/// A domain's downloads in progress and its logs.
#[derive(Debug)]
pub struct Activity {
    downloads: Mutex<Vec<Arc<DownloadCell>>>,
    errors: Mutex<Ring<Logged>>,
    moves: Mutex<Ring<Logged>>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            downloads: Mutex::default(),
            errors: Mutex::new(Ring::new(LOG_LEN)),
            moves: Mutex::new(Ring::new(LOG_LEN)),
        }
    }
}

impl Activity {
    /// Starts tracking a download of `version`: `shards_total` shards of
    /// `bytes_total` bytes in all. It is listed until the guard is dropped.
    pub fn download_started(
        self: &Arc<Self>,
        version: &str,
        bytes_total: u64,
        shards_total: u32,
    ) -> DownloadGuard {
        let cell = Arc::new(DownloadCell {
            version: version.to_string(),
            bytes_total,
            shards_total,
            started_at: SystemTime::now(),
            started: Instant::now(),
            bytes_done: AtomicU64::new(0),
            shards_done: AtomicU32::new(0),
        });
        lock(&self.downloads).push(Arc::clone(&cell));
        DownloadGuard {
            cell,
            activity: Arc::clone(self),
        }
    }

    /// The downloads in progress, oldest first.
    pub fn downloads(&self) -> Vec<DownloadProgress> {
        lock(&self.downloads)
            .iter()
            .map(|c| DownloadProgress {
                version: c.version.clone(),
                bytes_done: c.bytes_done.load(Ordering::Relaxed),
                bytes_total: c.bytes_total,
                shards_done: c.shards_done.load(Ordering::Relaxed),
                shards_total: c.shards_total,
                started_at: c.started_at,
                elapsed: c.started.elapsed(),
            })
            .collect()
    }

    /// Logs an error, unless it repeats the last one logged (a check that keeps
    /// failing the same way is one entry, not a flood).
    pub fn error(&self, kind: EventKind, version: &str, message: &str) {
        let mut errors = lock(&self.errors);
        let repeat = errors
            .last()
            .is_some_and(|l| l.kind == kind && l.version == version && l.message == message);
        if !repeat {
            errors.push(logged(kind, version, message));
        }
    }

    /// Logs a move.
    pub fn moved(&self, kind: EventKind, version: &str, message: &str) {
        lock(&self.moves).push(logged(kind, version, message));
    }

    /// The last errors, oldest first.
    pub fn errors(&self) -> Vec<Logged> {
        lock(&self.errors).to_vec()
    }

    /// The last moves, oldest first.
    pub fn moves(&self) -> Vec<Logged> {
        lock(&self.moves).to_vec()
    }
}

fn logged(kind: EventKind, version: &str, message: &str) -> Logged {
    Logged {
        at: SystemTime::now(),
        kind,
        version: version.to_string(),
        message: message.to_string(),
    }
}

/// Locks `m`; a poisoned lock only means a panic elsewhere mid-update of plain data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_entries_oldest_first() {
        let mut ring = Ring::new(3);
        assert!(ring.to_vec().is_empty());
        for i in 0..5 {
            ring.push(i);
        }
        assert_eq!(ring.to_vec(), [2, 3, 4]);
        let mut one = Ring::new(0);
        one.push("a");
        one.push("b");
        assert_eq!(one.to_vec(), ["b"]);
    }

    #[test]
    fn logs_are_bounded() {
        let activity = Activity::default();
        for i in 0..LOG_LEN + 5 {
            activity.moved(EventKind::Swap, &format!("v{i:02}"), "swapped");
        }
        let moves = activity.moves();
        assert_eq!(moves.len(), LOG_LEN);
        assert_eq!(moves[0].version, "v05");
        assert_eq!(moves[LOG_LEN - 1].version, format!("v{:02}", LOG_LEN + 4));
        assert!(activity.errors().is_empty());
    }

    #[test]
    fn a_repeated_error_is_logged_once() {
        let activity = Activity::default();
        activity.error(EventKind::ScrubError, "v1", "shard 3 is bad");
        activity.error(EventKind::ScrubError, "v1", "shard 3 is bad");
        activity.error(EventKind::LoadError, "v2", "shard 3 is bad");
        activity.error(EventKind::ScrubError, "v1", "shard 3 is bad");
        let kinds: Vec<_> = activity.errors().iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::ScrubError,
                EventKind::LoadError,
                EventKind::ScrubError
            ]
        );
    }

    #[test]
    fn a_smaller_version_id_is_a_rollback() {
        let (old, new) = ("20261121T213000Z-7f3a", "20261122T080000Z-0001");
        assert_eq!(EventKind::of_swap(None, old), EventKind::Swap);
        assert_eq!(EventKind::of_swap(Some(old), new), EventKind::Swap);
        assert_eq!(EventKind::of_swap(Some(new), old), EventKind::Rollback);
        assert_eq!(EventKind::of_swap(Some(new), new), EventKind::Swap);
    }

    #[test]
    fn a_download_is_listed_until_its_guard_drops() {
        let activity = Arc::new(Activity::default());
        let guard = activity.download_started("v2", 300, 3);
        guard.cell().shard_done(100);
        let first = activity.downloads();
        assert_eq!(first.len(), 1);
        assert_eq!(
            (
                first[0].version.as_str(),
                first[0].bytes_done,
                first[0].bytes_total
            ),
            ("v2", 100, 300)
        );
        assert_eq!((first[0].shards_done, first[0].shards_total), (1, 3));
        let other = activity.download_started("v3", 10, 1);
        drop(guard);
        let left = activity.downloads();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].version, "v3");
        drop(other);
        assert!(activity.downloads().is_empty());
    }
}
