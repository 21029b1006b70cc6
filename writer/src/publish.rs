//! Publishing a built version to a store, and making it current.

use tusk_store::{Catalog, Current, ErrorKind};

use crate::built::BuiltVersion;
use crate::error::{Result, WriteError};

/// Uploads the shards and then the manifest of `built` (the version becomes visible
/// only once its manifest is written), then, when `activate` is true, moves the
/// domain's `CURRENT` pointer to it on behalf of `actor`.
///
/// Returns the new pointer, or `None` when `activate` is false.
///
/// Activation re-reads `CURRENT` and tries again (up to [`ACTIVATE_ATTEMPTS`] times)
/// when it loses a race: the writer's intent is "make this new version current", so
/// another operator's concurrent move, or the repair of a move a crashed process left
/// half done, is not a reason to fail a job whose version is already published.
pub async fn publish(
    catalog: &Catalog,
    built: &BuiltVersion,
    activate: bool,
    actor: &str,
) -> Result<Option<Current>> {
    let m = &built.manifest;
    catalog
        .publish(m, built.shard_dir())
        .await
        .map_err(|source| WriteError::Publish {
            domain: m.domain.clone(),
            version: m.version.clone(),
            source,
        })?;
    tracing::info!(domain = %m.domain, version = %m.version, store = %catalog.url(), "published version");
    if !activate {
        return Ok(None);
    }
    let reason = format!("published by tusk-writer ({} records)", m.records);
    let mut attempt = 1;
    loop {
        match catalog
            .activate(&m.domain, &m.version, actor, &reason)
            .await
        {
            Ok(current) => return Ok(Some(current)),
            Err(e) if e.kind() == ErrorKind::Conflict && attempt < ACTIVATE_ATTEMPTS => {
                tracing::info!(domain = %m.domain, version = %m.version, attempt, error = %e, "activation lost a race; re-reading CURRENT and retrying");
                attempt += 1;
            }
            Err(source) => {
                return Err(WriteError::Activate {
                    domain: m.domain.clone(),
                    version: m.version.clone(),
                    source,
                });
            }
        }
    }
}

/// How many times [`publish`] tries to activate a version that keeps losing races.
pub const ACTIVATE_ATTEMPTS: u32 = 5;
