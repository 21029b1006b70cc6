//! Publishing a built version to a store, and making it current.

use std::sync::Arc;

use tusk_store::{Catalog, Current, MoveOptions, PublishOptions, ShardUploadedFn};

use crate::built::BuiltVersion;
use crate::error::{Result, WriteError};
use crate::progress::{Progress, ProgressEvent, ProgressFn};

/// Uploads the shards and then the manifest of `built` (the version becomes visible
/// only once its manifest is written), then, when `activation` is given, moves the
/// domain's `CURRENT` pointer to it with those options (actor, reason, policy
/// override).
///
/// Returns the new pointer, or `None` when `activation` is `None`.
///
/// `progress`, when given, hears `Phase("uploading")`, a
/// [`ShardUploaded`](ProgressEvent::ShardUploaded) for each shard as it lands,
/// `Phase("activating")` (only with `activation`) and `Phase("done")`.
///
/// Activation is one conditioned move (see `Catalog::activate_with`): it is checked
/// against the domain's write policy first, and if another operator moves `CURRENT`
/// at the same moment it fails with an error that names the winner. Either way the
/// error says the version is published but not current; the writer never overrides
/// a move it did not see.
pub async fn publish(
    catalog: &Catalog,
    built: &BuiltVersion,
    activation: Option<&MoveOptions>,
    progress: Option<ProgressFn>,
) -> Result<Option<Current>> {
    let m = &built.manifest;
    let on_uploaded = progress.clone().map(|cb| -> ShardUploadedFn {
        Arc::new(move |shard| {
            cb(ProgressEvent::ShardUploaded {
                index: shard.index,
                bytes: shard.bytes,
            })
        })
    });
    let progress = Progress::new(progress);
    progress.emit(ProgressEvent::Phase("uploading"));
    catalog
        .publish_observed(
            m,
            built.shard_dir(),
            &PublishOptions::default(),
            on_uploaded,
        )
        .await
        .map_err(|source| WriteError::Publish {
            domain: m.domain.clone(),
            version: m.version.clone(),
            source,
        })?;
    tracing::info!(domain = %m.domain, version = %m.version, store = %catalog.url(), "published version");
    let Some(options) = activation else {
        progress.emit(ProgressEvent::Phase("done"));
        return Ok(None);
    };
    progress.emit(ProgressEvent::Phase("activating"));
    match catalog.activate_with(&m.domain, &m.version, options).await {
        Ok(outcome) => {
            progress.emit(ProgressEvent::Phase("done"));
            Ok(Some(outcome.current))
        }
        Err(source) => Err(WriteError::Activate {
            domain: m.domain.clone(),
            version: m.version.clone(),
            source,
        }),
    }
}
