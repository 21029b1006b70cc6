//! Mutual exclusion for replacing an object of the local store.
//!
//! Two layers guard every replacement (`Overwrite`, `UpdateIf`, `put_file`, `delete`):
//!
//! 1. a process-wide striped mutex chosen by the object's path, so threads of one
//!    process queue instead of spinning;
//! 2. an exclusive lock file `.<name>.lock` next to the object, created with
//!    `create_new` and removed when the guard drops, so cooperating processes on the
//!    same directory exclude each other too.
//!
//! A lock file holds its owner's `pid host`. It is taken to belong to a crashed
//! process, and removed, when that owner is on this host and no longer runs (checked
//! through `/proc/<pid>`, so at once on Linux), or when it is older than
//! [`STALE_AFTER`] (any platform, any host). An owner that cannot be told (an empty or
//! unreadable file, another host, no `/proc`) falls back to the age rule. Residual risks: two processes that break the same stale lock at the
//! same moment can both proceed; a process that holds a lock for longer than
//! `STALE_AFTER` can lose it; tools that do not use this store (hand edits, `cp`)
//! are not excluded; filesystems without atomic exclusive create (old NFS) give no
//! cross-process guarantee. Create-only writes need no lock: they are atomic
//! through `hard_link`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::{Result, StoreError};

/// A lock file older than this is considered abandoned.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(30);

/// How long to wait for another process's lock before giving up with `Conflict`.
const WAIT_FOR: Duration = Duration::from_secs(5);

/// Pause between attempts while another process holds the lock.
const RETRY_EVERY: Duration = Duration::from_millis(5);

const STRIPES: usize = 64;
static STRIPE_LOCKS: [Mutex<()>; STRIPES] = [const { Mutex::new(()) }; STRIPES];

/// Holds both locks of one object path; releases them on drop.
pub(crate) struct ObjectLock {
    lock_file: PathBuf,
    _stripe: MutexGuard<'static, ()>,
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.lock_file) {
            tracing::warn!(lock = %self.lock_file.display(), error = %e, "could not remove lock file");
        }
    }
}

/// The lock file path of `object`: `.<name>.lock` in the same directory.
pub(crate) fn lock_path(object: &Path) -> PathBuf {
    let name = object
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    object.with_file_name(format!(".{name}.lock"))
}

/// Locks `object` (whose store key is `key`, for messages). Blocks; call from a
/// blocking thread.
pub(crate) fn lock_object(key: &str, object: &Path) -> Result<ObjectLock> {
    lock_object_waiting(key, object, WAIT_FOR)
}

/// [`lock_object`] with an explicit wait for another process's lock.
fn lock_object_waiting(key: &str, object: &Path, wait: Duration) -> Result<ObjectLock> {
    let stripe = (xxhash_rust::xxh3::xxh3_64(object.as_os_str().as_encoded_bytes())
        % STRIPES as u64) as usize;
    let guard = STRIPE_LOCKS[stripe]
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let lock_file = lock_path(object);
    let attempts = (wait.as_millis() / RETRY_EVERY.as_millis()).max(1);
    for _ in 0..attempts {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_file)
        {
            Ok(mut f) => {
                // Lets a later process see that the owner died (and a human who finds
                // a leftover lock file see whose it was).
                let _ = writeln!(f, "{} {}", std::process::id(), host_name());
                return Ok(ObjectLock {
                    lock_file,
                    _stripe: guard,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if is_stale(&lock_file) {
                    tracing::warn!(lock = %lock_file.display(), "removing abandoned lock file");
                    match std::fs::remove_file(&lock_file) {
                        Ok(()) => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(StoreError::io(&lock_file, e)),
                    }
                }
                std::thread::sleep(RETRY_EVERY);
            }
            Err(e) => return Err(StoreError::io(&lock_file, e)),
        }
    }
    Err(StoreError::Conflict {
        key: key.to_string(),
        detail: format!(
            "another process holds {} (for more than {:?}); retry later, or remove it if no tusk process is running",
            lock_file.display(),
            wait
        ),
    })
}

fn is_stale(lock_file: &Path) -> bool {
    owner_is_gone(lock_file) || is_old(lock_file)
}

/// True when the lock file names a process of this host that no longer runs.
fn owner_is_gone(lock_file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(lock_file) else {
        return false;
    };
    let mut fields = text.split_whitespace();
    let (Some(pid), Some(host)) = (fields.next(), fields.next()) else {
        return false; // being written, or written by an older tusk: use the age rule
    };
    let proc = Path::new("/proc");
    pid.parse::<u32>().is_ok()
        && host == host_name()
        && proc.join("self").exists()
        && !proc.join(pid).exists()
}

fn is_old(lock_file: &Path) -> bool {
    let modified = File::open(lock_file)
        .and_then(|f| f.metadata())
        .and_then(|m| m.modified());
    match modified {
        Ok(t) => SystemTime::now()
            .duration_since(t)
            .is_ok_and(|age| age > STALE_AFTER),
        Err(_) => false,
    }
}

/// This host's name, as recorded in lock files.
fn host_name() -> String {
    crate::host::host_name().unwrap_or_else(|| "unknown-host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_is_created_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let object = dir.path().join("CURRENT");
        let lock = lock_object("d/CURRENT", &object).expect("lock");
        assert!(lock_path(&object).exists());
        drop(lock);
        assert!(!lock_path(&object).exists());
    }

    #[test]
    fn stale_lock_file_is_broken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let object = dir.path().join("CURRENT");
        let f = File::create(lock_path(&object)).expect("create lock");
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(5);
        f.set_modified(old).expect("set mtime");
        drop(f);
        let lock = lock_object("d/CURRENT", &object).expect("stale lock is broken");
        drop(lock);
        assert!(!lock_path(&object).exists());
    }

    #[test]
    fn fresh_lock_of_a_dead_process_on_this_host_is_broken_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let object = dir.path().join("CURRENT");
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("reap");
        std::fs::write(lock_path(&object), format!("{dead} {}\n", host_name()))
            .expect("write lock");
        // A 20 ms wait: only the dead-owner rule can free it, not the 30 s age rule.
        let lock = lock_object_waiting("d/CURRENT", &object, Duration::from_millis(20))
            .expect("a dead owner's lock is abandoned");
        drop(lock);
        assert!(!lock_path(&object).exists());
    }

    #[test]
    fn fresh_lock_of_a_live_process_or_another_host_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let object = dir.path().join("CURRENT");
        for owner in [
            format!("{} {}", std::process::id(), host_name()),
            format!("1 some-other-host-{}", std::process::id()),
        ] {
            std::fs::write(lock_path(&object), owner.clone()).expect("write lock");
            let err = lock_object_waiting("d/CURRENT", &object, Duration::from_millis(20))
                .err()
                .unwrap_or_else(|| panic!("the lock of {owner:?} must not be taken"));
            assert_eq!(err.kind(), crate::ErrorKind::Conflict, "{err}");
            assert!(lock_path(&object).exists());
        }
    }

    #[test]
    fn fresh_foreign_lock_file_gives_conflict_and_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let object = dir.path().join("CURRENT");
        File::create(lock_path(&object)).expect("create lock");
        let err = lock_object_waiting("d/CURRENT", &object, Duration::from_millis(20))
            .err()
            .expect("a fresh lock held elsewhere must not be taken");
        assert_eq!(err.kind(), crate::ErrorKind::Conflict, "{err}");
        assert!(err.to_string().contains("d/CURRENT"), "{err}");
        assert!(
            lock_path(&object).exists(),
            "someone else's lock file must stay"
        );
    }
}
