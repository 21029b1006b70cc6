//! Publishing a built version to a store, and making it current.

use tusk_store::{Catalog, Current, MoveOptions};

use crate::built::BuiltVersion;
use crate::error::{Result, WriteError};

/// Uploads the shards and then the manifest of `built` (the version becomes visible
/// only once its manifest is written), then, when `activate` is true, moves the
/// domain's `CURRENT` pointer to it on behalf of `actor`.
///
/// Returns the new pointer, or `None` when `activate` is false.
///
/// Activation is one conditioned move (see `Catalog::activate_with`): if another
/// operator moves `CURRENT` at the same moment, the activation fails with an error
/// that names the winner and says the version is published but not current; the
/// writer never overrides a move it did not see.
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
    let options = MoveOptions::new(actor, reason);
    match catalog.activate_with(&m.domain, &m.version, &options).await {
        Ok(outcome) => Ok(Some(outcome.current)),
        Err(source) => Err(WriteError::Activate {
            domain: m.domain.clone(),
            version: m.version.clone(),
            source,
        }),
    }
}
