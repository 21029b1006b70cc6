//! Publishing a version: shards first (bounded concurrency), create-only manifest last.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::Catalog;
use super::bounded::run_bounded;
use crate::layout::{manifest_key, shard_key, validate_domain, validate_version, version_prefix};
use crate::{ErrorKind, Manifest, ObjectStore, PutMode, Result, ShardEntry, StoreError};

/// Shards uploaded at the same time.
const UPLOAD_CONCURRENCY: usize = 4;

impl Catalog {
    /// Publishes a built version: uploads every shard named by `manifest` from
    /// `shard_dir` (file name = `ShardEntry::object`), then creates `MANIFEST.json`
    /// (create-only) last. Refuses a version id that already has objects.
    /// Does not move `CURRENT`.
    ///
    /// A failure before the manifest is written leaves no visible version (the
    /// uploaded shards are debris for a later gc). Two writers publishing the *same*
    /// version id at the same moment can both pass the emptiness check; only one
    /// manifest is created, but the shards may mix: version ids carry a random
    /// suffix so that this does not happen in practice.
    pub async fn publish(&self, manifest: &Manifest, shard_dir: &Path) -> Result<()> {
        validate_domain(&manifest.domain)?;
        validate_version(&manifest.version)?;
        let mkey = manifest_key(&manifest.domain, &manifest.version);
        manifest.validate(&mkey)?;
        check_local_shards(manifest, shard_dir).await?;

        let prefix = version_prefix(&manifest.domain, &manifest.version);
        let existing = self.store.list(&prefix).await?;
        if !existing.is_empty() {
            return Err(StoreError::Conflict {
                key: prefix,
                detail: format!(
                    "version {} of domain {} already has {} object(s) in {} (published before, or left by a failed publish); use a new version id",
                    manifest.version,
                    manifest.domain,
                    existing.len(),
                    self.store.url()
                ),
            });
        }

        upload_shards(&self.store, manifest, shard_dir).await?;

        match self
            .store
            .put(&mkey, Bytes::from(manifest.to_json()), PutMode::Create)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Conflict => Err(StoreError::Conflict {
                key: mkey,
                detail: format!(
                    "version {} of domain {} was committed by another writer at the same time",
                    manifest.version, manifest.domain
                ),
            }),
            Err(e) => Err(e),
        }
    }
}

/// Every shard file exists locally with the size the manifest gives, and object
/// names are unique.
async fn check_local_shards(manifest: &Manifest, shard_dir: &Path) -> Result<()> {
    let mut names = HashSet::new();
    for shard in &manifest.shards {
        if !names.insert(shard.object.as_str()) {
            return Err(StoreError::Invalid {
                what: "manifest".to_string(),
                detail: format!("shard object {:?} is listed twice", shard.object),
            });
        }
        let path = shard_dir.join(&shard.object);
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| StoreError::io(&path, e))?;
        if !meta.is_file() || meta.len() != shard.bytes {
            return Err(StoreError::Invalid {
                what: "shard file".to_string(),
                detail: format!(
                    "{}: {} bytes on disk, the manifest says {} (shard {})",
                    path.display(),
                    meta.len(),
                    shard.bytes,
                    shard.index
                ),
            });
        }
    }
    Ok(())
}

/// Uploads all shards, at most [`UPLOAD_CONCURRENCY`] at a time; stops at the first
/// error (uploads in flight are aborted where the backend allows it).
async fn upload_shards(
    store: &Arc<dyn ObjectStore>,
    manifest: &Manifest,
    shard_dir: &Path,
) -> Result<()> {
    let uploads = manifest.shards.iter().map(|shard| {
        let key = shard_key(&manifest.domain, &manifest.version, &shard.object);
        let path = shard_dir.join(&shard.object);
        upload_one(Arc::clone(store), key, path, shard.clone())
    });
    run_bounded(uploads, UPLOAD_CONCURRENCY, "shard upload").await
}

async fn upload_one(
    store: Arc<dyn ObjectStore>,
    key: String,
    path: PathBuf,
    shard: ShardEntry,
) -> Result<()> {
    let meta = store.put_file(&key, &path, shard.crc32).await?;
    if meta.size != shard.bytes {
        return Err(StoreError::Checksum {
            key,
            detail: format!(
                "uploaded {} bytes from {}, the manifest says {}",
                meta.size,
                path.display(),
                shard.bytes
            ),
        });
    }
    tracing::debug!(key = %key, bytes = shard.bytes, "uploaded shard");
    Ok(())
}
