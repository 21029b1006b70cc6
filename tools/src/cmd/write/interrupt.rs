//! `tusk write` stopped by SIGINT or SIGTERM: remove the build's temporary files
//! (spilled runs, built shards) and exit non-zero with a one-line message.
//!
//! The build runs on the main thread and on rayon's threads, and may be blocked
//! reading stdin, so it cannot be asked to stop in time. Instead every temporary file
//! lives under one private work directory, and a watcher thread removes that directory
//! and exits the process. Files a build thread creates after the removal fail to
//! appear (their directory is gone); files it still holds open vanish with the process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

/// While alive, SIGINT and SIGTERM remove `workdir` and exit; [`Guard::disarm`] (once
/// the work is done) lets the command finish normally instead.
pub struct Guard {
    done: Arc<Mutex<bool>>,
}

impl Guard {
    /// Installs the handlers for SIGINT and SIGTERM before returning, so a signal that
    /// arrives once this returns is always handled.
    pub fn install(workdir: PathBuf) -> anyhow::Result<Guard> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the signal watcher")?;
        let (mut term, mut int) = {
            let _entered = runtime.enter();
            let term = signal(SignalKind::terminate()).context("watching SIGTERM")?;
            let int = signal(SignalKind::interrupt()).context("watching SIGINT")?;
            (term, int)
        };
        let done = Arc::new(Mutex::new(false));
        let watched = Arc::clone(&done);
        std::thread::Builder::new()
            .name("tusk-write-signals".into())
            .spawn(move || {
                let (name, number) = runtime.block_on(async {
                    tokio::select! {
                        _ = term.recv() => ("SIGTERM", 15),
                        _ = int.recv() => ("SIGINT", 2),
                    }
                });
                // Held until the process exits, so `disarm` cannot race the removal.
                let done = watched.lock().unwrap_or_else(|e| e.into_inner());
                if *done {
                    return;
                }
                eprintln!("tusk: error: {}", stop(&workdir, name));
                std::process::exit(128 + number);
            })
            .context("starting the signal watcher thread")?;
        Ok(Guard { done })
    }

    /// The work is done: from now on a signal no longer removes or exits anything.
    pub fn disarm(self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }
}

/// Removes `workdir` (retrying while build threads still add files to it) and says
/// what happened, in one line.
fn stop(workdir: &Path, signal: &str) -> String {
    const ATTEMPTS: usize = 20;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match std::fs::remove_dir_all(workdir) {
            Ok(()) => {
                return format!(
                    "stopped by {signal}; removed temporary files in {}",
                    workdir.display()
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return format!("stopped by {signal}");
            }
            Err(e) => last = Some(e),
        }
    }
    let why = last.map(|e| e.to_string()).unwrap_or_default();
    format!(
        "stopped by {signal}; could not remove temporary files in {}: {why}",
        workdir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_removes_the_work_dir_and_says_so_on_one_line() {
        let parent = tempfile::tempdir().unwrap();
        let work = parent.path().join("work");
        std::fs::create_dir_all(work.join("runs")).unwrap();
        std::fs::write(work.join("runs/s00000-00000000.run"), b"x").unwrap();
        let line = stop(&work, "SIGTERM");
        assert!(!work.exists());
        assert_eq!(
            line,
            format!(
                "stopped by SIGTERM; removed temporary files in {}",
                work.display()
            )
        );
        assert_eq!(stop(&work, "SIGINT"), "stopped by SIGINT");
    }
}
