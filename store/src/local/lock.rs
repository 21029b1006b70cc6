//! Mutual exclusion for replacing an object of the local store.
//!
//! Two layers guard every replacement (`Overwrite`, `UpdateIf`, `put_file`, `delete`):
//!
//! 1. a process-wide striped mutex chosen by the object's path, so threads of one
//!    process queue instead of spinning;
//! 2. an exclusive kernel lock (`flock`) on a lock file `.<name>.lock` next to the
//!    object, so cooperating processes on the same directory exclude each other too.
//!
//! The kernel releases the lock when its holder exits, however it exits (a crash, a
//! `kill -9`): a lock file left on disk by a dead process is free at once, with no
//! guessing from ages or process ids. The holder removes the file before it lets go;
//! a process that opened the file just before it was removed then holds a lock on a
//! file no longer in the directory, notices (the path no longer names the inode it
//! locked) and tries again. Residual risks: tools that do not use this store (hand
//! edits, `cp`) are not excluded; on network filesystems the guarantee is only as
//! good as their lock support. Create-only writes need no lock: they are atomic
//! through `hard_link`.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::{Result, StoreError};

/// How long to wait for another process's lock before giving up with `Conflict`.
const WAIT_FOR: Duration = Duration::from_secs(5);

/// Pause between attempts while another process holds the lock.
const RETRY_EVERY: Duration = Duration::from_millis(5);

const STRIPES: usize = 64;
static STRIPE_LOCKS: [Mutex<()>; STRIPES] = [const { Mutex::new(()) }; STRIPES];

/// Holds both locks of one object path; releases them on drop.
pub(crate) struct ObjectLock {
    lock_file: PathBuf,
    /// The locked file; closing it releases the kernel lock.
    _file: File,
    _stripe: MutexGuard<'static, ()>,
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        // Removed while still locked, so no other process can lock this inode and
        // believe it holds the object (it checks the path after locking).
        if let Err(e) = std::fs::remove_file(&self.lock_file)
            && e.kind() != std::io::ErrorKind::NotFound
        {
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
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_file)
            .map_err(|e| StoreError::io(&lock_file, e))?;
        match file.try_lock() {
            Ok(()) if still_named_by(&file, &lock_file) => {
                return Ok(ObjectLock {
                    lock_file,
                    _file: file,
                    _stripe: guard,
                });
            }
            // Locked a file its holder removed meanwhile: open the path again.
            Ok(()) => continue,
            Err(TryLockError::WouldBlock) => std::thread::sleep(RETRY_EVERY),
            Err(TryLockError::Error(e)) => return Err(StoreError::io(&lock_file, e)),
        }
    }
    Err(StoreError::Conflict {
        key: key.to_string(),
        detail: format!(
            "another process has held the lock on {} for more than {:?}; retry later",
            lock_file.display(),
            wait
        ),
    })
}

/// Whether `path` still names the inode `file` has open.
fn still_named_by(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        // Elsewhere an open file cannot be removed, so the path still names it.
        let _ = (file, path);
        true
    }
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
    fn a_lock_file_left_by_a_dead_holder_is_free_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let object = dir.path().join("CURRENT");
        // A holder that died leaves its (unlocked) file behind, however fresh.
        std::fs::write(lock_path(&object), b"").expect("leftover lock file");
        let lock = lock_object_waiting("d/CURRENT", &object, Duration::from_millis(20))
            .expect("nobody holds the kernel lock");
        drop(lock);
        assert!(!lock_path(&object).exists());
    }

    #[test]
    fn a_lock_held_by_another_process_gives_conflict_until_it_exits() {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("tempdir");
        let object = dir.path().join("CURRENT");
        // flock(1) takes the kernel lock, then becomes (same pid) a shell that says so
        // and a `sleep` that holds it.
        let mut holder = std::process::Command::new("flock")
            .args(["--exclusive", "--no-fork"])
            .arg(lock_path(&object))
            .args(["-c", "echo locked; exec sleep 30"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn flock(1)");
        let mut line = String::new();
        std::io::BufReader::new(holder.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "locked");

        let err = lock_object_waiting("d/CURRENT", &object, Duration::from_millis(20))
            .err()
            .expect("the other process's lock is respected");
        assert_eq!(err.kind(), crate::ErrorKind::Conflict, "{err}");
        assert!(err.to_string().contains("d/CURRENT"), "{err}");
        assert!(
            lock_path(&object).exists(),
            "someone else's lock file stays"
        );

        holder.kill().expect("kill the holder");
        holder.wait().expect("reap");
        let lock = lock_object_waiting("d/CURRENT", &object, Duration::from_millis(20))
            .expect("the kernel released the killed holder's lock");
        drop(lock);
        assert!(!lock_path(&object).exists());
    }

    #[test]
    fn a_lock_on_a_removed_file_is_not_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".x.lock");
        let file = File::create(&path).expect("create");
        assert!(still_named_by(&file, &path));
        std::fs::remove_file(&path).expect("remove");
        assert!(!still_named_by(&file, &path));
        std::fs::write(&path, b"").expect("a new file at the same path");
        assert!(!still_named_by(&file, &path));
    }
}
