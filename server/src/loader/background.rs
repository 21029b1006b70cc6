//! Background work of a version load (verifying freshly downloaded shards, warming
//! their indexes) on a few threads of lower CPU priority, so it yields to the
//! threads answering requests.
//!
//! Linux gives each thread its own nice value (`setpriority(PRIO_PROCESS, 0, n)`
//! changes only the calling thread), and an unprivileged process may raise a nice
//! value but never lower it again. So the work runs on threads started for it,
//! lowered once at start, never on tokio's shared blocking pool. At most
//! [`BACKGROUND_THREADS`] run at once, server-wide; the rest wait for a permit.

use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

use crate::error::LoadError;

/// Nice value of the background threads: under the CFS weights a nice-10 thread
/// gets about a tenth of the CPU a nice-0 thread gets when they compete, and
/// all of it when the request threads are idle.
pub const BACKGROUND_NICE: i32 = 10;
/// Background threads running at once, server-wide.
pub const BACKGROUND_THREADS: usize = 1;
/// Highest nice value Linux accepts.
const MAX_NICE: i32 = 19;

static PERMITS: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(BACKGROUND_THREADS)));

/// The nice value to set on a thread now at `current` that should run at
/// `wanted`: never a higher priority than it has (an unprivileged process cannot
/// take it back), never past the highest nice value. `None`: leave it as it is.
pub fn nice_target(current: i32, wanted: i32) -> Option<i32> {
    let target = wanted.min(MAX_NICE);
    (target > current).then_some(target)
}

/// Runs `f` on a new thread at [`BACKGROUND_NICE`], at most
/// [`BACKGROUND_THREADS`] at once. If this future is dropped, `f` still runs
/// to its end (its result is discarded).
pub async fn run<T, F>(what: &str, f: F) -> Result<T, LoadError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, LoadError> + Send + 'static,
{
    let task_error = |detail: String| LoadError::Task {
        what: what.to_string(),
        detail,
    };
    // Held by the thread, so the bound holds even when this future is dropped.
    let permit = Arc::clone(&PERMITS)
        .acquire_owned()
        .await
        .map_err(|e| task_error(e.to_string()))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("tusk-background".into())
        .spawn(move || {
            let _permit = permit;
            lower_priority(BACKGROUND_NICE);
            // The receiver may be gone (the load was abandoned): nothing to do.
            let _ = tx.send(f());
        })
        .map_err(|e| task_error(format!("cannot start a thread: {e}")))?;
    rx.await
        .map_err(|_| task_error("the background thread panicked".into()))?
}

/// Lowers the calling thread's priority to nice `wanted` (see [`nice_target`]).
/// A failure is logged and otherwise ignored: the work still runs, only at the
/// priority it had.
fn lower_priority(wanted: i32) {
    let Some(current) = sys::nice() else { return };
    if let Some(target) = nice_target(current, wanted)
        && let Err(e) = sys::set_nice(target)
    {
        tracing::warn!(error = %e, nice = target, "cannot lower the priority of a background thread");
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::ffi::{c_int, c_uint};

    /// `PRIO_PROCESS`: with `who = 0`, the calling thread on Linux.
    const PRIO_PROCESS: c_int = 0;

    // SAFETY: the libc prototypes (glibc and musl: `which` is an int-sized enum,
    // `id_t` is a 32-bit unsigned int on Linux).
    unsafe extern "C" {
        fn getpriority(which: c_int, who: c_uint) -> c_int;
        fn setpriority(which: c_int, who: c_uint, prio: c_int) -> c_int;
        fn __errno_location() -> *mut c_int;
    }

    /// The calling thread's nice value, or `None` when it cannot be read.
    pub fn nice() -> Option<i32> {
        // SAFETY: plain system calls on the calling thread; -1 is also a valid
        // nice value, so errno is cleared first and read after.
        unsafe {
            *__errno_location() = 0;
            let value = getpriority(PRIO_PROCESS, 0);
            (value != -1 || *__errno_location() == 0).then_some(value)
        }
    }

    /// Sets the calling thread's nice value.
    pub fn set_nice(value: i32) -> std::io::Result<()> {
        // SAFETY: a plain system call on the calling thread.
        match unsafe { setpriority(PRIO_PROCESS, 0, value) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    /// Threads share one priority elsewhere: leave it alone.
    pub fn nice() -> Option<i32> {
        None
    }

    /// Unreachable: `nice` answers `None`.
    pub fn set_nice(_value: i32) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_target_only_ever_lowers_priority() {
        assert_eq!(nice_target(0, BACKGROUND_NICE), Some(10));
        // Already lower than wanted: keep it (raising it back would fail).
        assert_eq!(nice_target(15, BACKGROUND_NICE), None);
        assert_eq!(nice_target(10, 10), None);
        // Clamped to the highest nice value.
        assert_eq!(nice_target(0, 40), Some(19));
        assert_eq!(nice_target(19, 40), None);
        assert_eq!(nice_target(-5, 0), Some(0));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn work_runs_on_a_lowered_thread_and_the_caller_keeps_its_priority() {
        let before = sys::nice().expect("read nice");
        let seen = run("test", || Ok(sys::nice())).await.expect("ran");
        let want = nice_target(before, BACKGROUND_NICE).unwrap_or(before);
        assert_eq!(seen, Some(want));
        assert_eq!(sys::nice(), Some(before));
        let err = run::<(), _>("test", || panic!("boom"))
            .await
            .expect_err("a panic is an error");
        assert!(err.to_string().contains("panicked"), "{err}");
    }
}
