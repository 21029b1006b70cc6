//! The loader's blocking work on its data dir, run off the async workers; each
//! logs what it did or why it could not (the loader goes on either way).

use std::path::{Path, PathBuf};

use crate::data_dir::{DomainDir, KeepPartial};

use super::fetch::blocking;

/// Start-up sweep of leftovers of interrupted work (see [`DomainDir::sweep`]).
pub async fn sweep(dir: &DomainDir, domain: &str, keep: KeepPartial) {
    let dir = dir.clone();
    let swept = blocking("sweep data dir", move || {
        dir.create()?;
        dir.sweep(&keep)
    })
    .await;
    match swept {
        Ok(removed) => {
            for path in removed {
                tracing::info!(domain, path = %path.display(), "removed leftover of interrupted work");
            }
        }
        Err(e) => tracing::warn!(domain, error = %e, "cannot sweep data dir"),
    }
}

/// Marks `version` partial again and removes `bad` (see [`DomainDir::unmark`]).
pub async fn unmark(dir: &DomainDir, version: &str, bad: Option<&Path>) {
    let (dir, v, bad) = (dir.clone(), version.to_string(), bad.map(PathBuf::from));
    if let Err(e) = blocking("unmark damaged version", move || {
        dir.unmark(&v, bad.as_deref())
    })
    .await
    {
        tracing::warn!(version = %version, error = %e, "cannot remove a damaged local copy");
    }
}

/// Deletes the local copy of `version`.
pub async fn remove_version(dir: &DomainDir, domain: &str, version: &str) {
    let (dir, v) = (dir.clone(), version.to_string());
    if let Err(e) = blocking("remove version", move || dir.remove_version(&v)).await {
        tracing::warn!(domain, version = %version, error = %e, "cannot remove local version");
    }
}

/// The complete local versions, sorted; `None` (logged) when they cannot be listed.
pub async fn complete_versions(dir: &DomainDir, domain: &str) -> Option<Vec<String>> {
    let dir = dir.clone();
    match blocking("list local versions", move || dir.complete_versions()).await {
        Ok(versions) => Some(versions),
        Err(e) => {
            tracing::warn!(domain, error = %e, "cannot list local versions");
            None
        }
    }
}
