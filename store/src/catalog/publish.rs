//! Publishing a version: announce it (the publish marker, a renewed lease), upload the
//! shards (bounded concurrency), check that the marker is still this publish's and
//! that every shard is in the store, then create the manifest last.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::Catalog;
use super::bounded::run_bounded;
use super::lease::{Lease, PublishOptions};
use crate::keys::{manifest_key, shard_key, validate_domain, validate_version, version_prefix};
use crate::{
    ErrorKind, Manifest, ObjectMeta, ObjectStore, PutMode, Result, ShardEntry, StoreError,
};

/// Shards uploaded at the same time.
const UPLOAD_CONCURRENCY: usize = 4;

/// Told about each shard once it is uploaded (and its size checked), for a progress
/// display. Called from the upload tasks, in completion order.
pub type ShardUploadedFn = Arc<dyn Fn(&ShardEntry) + Send + Sync>;

impl Catalog {
    /// Publishes a built version with the default [`PublishOptions`]; see
    /// [`Catalog::publish_with`].
    pub async fn publish(&self, manifest: &Manifest, shard_dir: &Path) -> Result<()> {
        self.publish_with(manifest, shard_dir, &PublishOptions::default())
            .await
    }

    /// Publishes a built version: uploads every shard named by `manifest` from
    /// `shard_dir` (file name = `ShardEntry::object`), then creates `MANIFEST.json`
    /// (create-only) last. Does not move `CURRENT`.
    ///
    /// Before uploading, it creates the publish marker
    /// `<domain>/versions/<version>/PUBLISHING.json` (create-only) and renews it every
    /// `options.renew_every` while the upload runs, so gc leaves the directory alone.
    /// After the uploads it renews the marker once more (conditioned on its own last
    /// write) and lists the version: the marker must still be its own and every shard
    /// present with the manifest's size. Only then is the manifest created, and the
    /// marker deleted. If gc took the marker or a shard, the publish fails naming what
    /// is missing and writes no manifest.
    ///
    /// Refuses a version id that already has objects. A failure before the manifest
    /// is written leaves no visible version (the uploaded shards are debris for a
    /// later gc; the marker is deleted).
    pub async fn publish_with(
        &self,
        manifest: &Manifest,
        shard_dir: &Path,
        options: &PublishOptions,
    ) -> Result<()> {
        self.publish_observed(manifest, shard_dir, options, None)
            .await
    }

    /// [`Catalog::publish_with`], calling `on_uploaded` with each shard's manifest
    /// entry as soon as that shard is uploaded.
    pub async fn publish_observed(
        &self,
        manifest: &Manifest,
        shard_dir: &Path,
        options: &PublishOptions,
        on_uploaded: Option<ShardUploadedFn>,
    ) -> Result<()> {
        validate_domain(&manifest.domain)?;
        validate_version(&manifest.version)?;
        let mkey = manifest_key(&manifest.domain, &manifest.version);
        manifest.validate(&mkey)?;
        check_local_shards(manifest, shard_dir).await?;

        let actor = manifest.writer.get("actor").map(String::as_str);
        let pending = self
            .begin_publish(&manifest.domain, &manifest.version, actor, options)
            .await?;
        let uploaded = tokio::select! {
            uploaded = upload_shards(&self.store, manifest, shard_dir, on_uploaded) => uploaded,
            lost = pending.lease.lost() => Err(lost),
        };
        match uploaded {
            Ok(()) => pending.commit(manifest).await,
            Err(e) => {
                pending.abort().await;
                Err(e)
            }
        }
    }

    /// Begins a publish whose shards others upload (the tasks of a Spark job, say):
    /// creates the publish marker of `version` of `domain` naming `actor` and renews
    /// it in the background, as [`Catalog::publish_with`] does, so gc leaves the
    /// version directory alone while the shards arrive.
    ///
    /// Refuses a version id that already has objects, and a version being published
    /// by another writer. Upload shards with [`Catalog::upload_shard`] under any plain
    /// object names (a name per task attempt, so retried and speculative attempts
    /// never overwrite each other), then [`PendingPublish::commit`] a manifest naming
    /// one object per shard. Until then nothing is visible; a writer that dies leaves
    /// debris that gc deletes once the marker's lease has run out.
    ///
    /// The renewals run on the Tokio runtime this is called on: keep it running
    /// until the commit.
    pub async fn begin_publish(
        &self,
        domain: &str,
        version: &str,
        actor: Option<&str>,
        options: &PublishOptions,
    ) -> Result<PendingPublish> {
        validate_domain(domain)?;
        validate_version(version)?;
        let lease = Lease::acquire(&self.store, domain, version, actor, options).await?;
        let pending = PendingPublish {
            store: Arc::clone(&self.store),
            domain: domain.to_string(),
            version: version.to_string(),
            lease,
        };
        let prefix = version_prefix(domain, version);
        let existing = match self.store.list(&prefix).await {
            Ok(existing) => existing,
            Err(e) => {
                pending.abort().await;
                return Err(e);
            }
        };
        let others = existing
            .iter()
            .filter(|o| o.key != pending.lease.key())
            .count();
        if others > 0 {
            pending.abort().await;
            return Err(StoreError::Conflict {
                key: prefix,
                detail: format!(
                    "version {version} of domain {domain} already has {others} object(s) in {} (published before, or left by a failed publish); use a new version id",
                    self.store.url()
                ),
            });
        }
        Ok(pending)
    }

    /// Uploads the shard file at `path` as `object` of `version` of `domain`
    /// (`<domain>/versions/<version>/<object>`), checked against `crc32` where the
    /// backend can. For the shards of a [`Catalog::begin_publish`]: uploading is
    /// all a task does; only the commit makes anything visible.
    pub async fn upload_shard(
        &self,
        domain: &str,
        version: &str,
        object: &str,
        path: &Path,
        crc32: u32,
    ) -> Result<ObjectMeta> {
        validate_domain(domain)?;
        validate_version(version)?;
        check_object_name(object)?;
        let key = shard_key(domain, version, object);
        self.store.put_file(&key, path, crc32).await
    }
}

/// A publish begun by [`Catalog::begin_publish`] and not yet committed. Its marker
/// is renewed in the background until [`PendingPublish::commit`] or
/// [`PendingPublish::abort`]; dropped, it stops renewing and the lease runs out.
#[derive(Debug)]
pub struct PendingPublish {
    store: Arc<dyn ObjectStore>,
    domain: String,
    version: String,
    lease: Lease,
}

impl PendingPublish {
    /// The domain being published.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The version being published.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Commits the version: confirms the marker is still this publish's, lists the
    /// version and checks that every shard `manifest` names is there with its size,
    /// then creates `MANIFEST.json` (create-only) and deletes the marker. Objects of
    /// the version the manifest does not name (uploads of attempts that lost) are
    /// deleted after, best effort. Does not move `CURRENT`.
    ///
    /// If gc took the marker or a shard, or another writer committed the version,
    /// it fails naming what happened and nothing is committed.
    pub async fn commit(mut self, manifest: &Manifest) -> Result<()> {
        let result = self.commit_under_lease(manifest).await;
        let PendingPublish { store, lease, .. } = self;
        lease.release().await;
        let debris = result?;
        for key in debris {
            if let Err(e) = store.delete(&key).await {
                tracing::warn!(key = %key, error = %e, "could not delete an upload the manifest does not name; it goes with its version");
            }
        }
        Ok(())
    }

    /// Gives the publish up: stops renewing and deletes the marker. Shards uploaded
    /// so far are debris for gc.
    pub async fn abort(self) {
        self.lease.release().await;
    }

    /// The commit's steps while the marker is held; returns the keys of uploads the
    /// manifest does not name.
    async fn commit_under_lease(&mut self, manifest: &Manifest) -> Result<Vec<String>> {
        if manifest.domain != self.domain || manifest.version != self.version {
            return Err(StoreError::Invalid {
                what: "manifest".to_string(),
                detail: format!(
                    "it describes version {} of domain {}, but this publish is of version {} of domain {}",
                    manifest.version, manifest.domain, self.version, self.domain
                ),
            });
        }
        let mkey = manifest_key(&manifest.domain, &manifest.version);
        manifest.validate(&mkey)?;
        let marker_etag = self.lease.confirm().await?;
        let prefix = version_prefix(&manifest.domain, &manifest.version);
        let listing = self.store.list(&prefix).await?;
        check_uploaded(manifest, &listing, self.lease.key(), &marker_etag)?;

        match self
            .store
            .put(&mkey, Bytes::from(manifest.to_json()), PutMode::Create)
            .await
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Conflict => {
                return Err(StoreError::Conflict {
                    key: mkey,
                    detail: format!(
                        "version {} of domain {} was committed by another writer at the same time",
                        manifest.version, manifest.domain
                    ),
                });
            }
            Err(e) => return Err(e),
        }
        Ok(unnamed_uploads(manifest, &listing, self.lease.key()))
    }
}

/// Keys in `listing` that are neither the marker nor a shard `manifest` names.
fn unnamed_uploads(manifest: &Manifest, listing: &[ObjectMeta], marker_key: &str) -> Vec<String> {
    let named: HashSet<String> = manifest
        .shards
        .iter()
        .map(|s| shard_key(&manifest.domain, &manifest.version, &s.object))
        .collect();
    listing
        .iter()
        .filter(|o| o.key != marker_key && !named.contains(&o.key))
        .map(|o| o.key.clone())
        .collect()
}

/// A shard object name is one the manifest accepts.
fn check_object_name(object: &str) -> Result<()> {
    if !crate::is_shard_object_name(object) {
        return Err(StoreError::Invalid {
            what: "shard object name".to_string(),
            detail: format!(
                "{object:?} is not a plain file name (nor MANIFEST.json or PUBLISHING.json)"
            ),
        });
    }
    Ok(())
}

/// The pre-manifest check over one listing of the version directory: the marker at
/// `marker_key` is still the one this publish last wrote (`marker_etag`), and every
/// shard of `manifest` is there with its size. Names everything missing.
fn check_uploaded(
    manifest: &Manifest,
    listing: &[ObjectMeta],
    marker_key: &str,
    marker_etag: &str,
) -> Result<()> {
    let by_key: HashMap<&str, &ObjectMeta> = listing.iter().map(|o| (o.key.as_str(), o)).collect();
    match by_key.get(marker_key) {
        Some(o) if o.etag == marker_etag => {}
        found => {
            let what = if found.is_some() {
                "was replaced by another writer's"
            } else {
                "was deleted"
            };
            return Err(StoreError::Conflict {
                key: marker_key.to_string(),
                detail: format!(
                    "the publish marker of version {} of domain {} {what} before MANIFEST.json was written (a gc judged the publish dead); nothing was committed, publish again",
                    manifest.version, manifest.domain
                ),
            });
        }
    }
    let problems: Vec<String> = manifest
        .shards
        .iter()
        .filter_map(|shard| {
            let key = shard_key(&manifest.domain, &manifest.version, &shard.object);
            match by_key.get(key.as_str()) {
                None => Some(format!("{} (missing)", shard.object)),
                Some(o) if o.size != shard.bytes => Some(format!(
                    "{} ({} bytes, the manifest says {})",
                    shard.object, o.size, shard.bytes
                )),
                Some(_) => None,
            }
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(StoreError::Conflict {
        key: version_prefix(&manifest.domain, &manifest.version),
        detail: format!(
            "{} of {} shards of version {} of domain {} are missing from the store after upload (deleted by a gc?): {}; nothing was committed, publish again",
            problems.len(),
            manifest.shards.len(),
            manifest.version,
            manifest.domain,
            problems.join(", ")
        ),
    })
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
    on_uploaded: Option<ShardUploadedFn>,
) -> Result<()> {
    let uploads = manifest.shards.iter().map(|shard| {
        let key = shard_key(&manifest.domain, &manifest.version, &shard.object);
        let path = shard_dir.join(&shard.object);
        upload_one(
            Arc::clone(store),
            key,
            path,
            shard.clone(),
            on_uploaded.clone(),
        )
    });
    run_bounded(uploads, UPLOAD_CONCURRENCY, "shard upload").await
}

async fn upload_one(
    store: Arc<dyn ObjectStore>,
    key: String,
    path: PathBuf,
    shard: ShardEntry,
    on_uploaded: Option<ShardUploadedFn>,
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
    if let Some(on_uploaded) = on_uploaded {
        on_uploaded(&shard);
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::keys::publish_marker_key;

    fn manifest(sizes: &[u64]) -> Manifest {
        let shards: Vec<ShardEntry> = sizes
            .iter()
            .zip(0u32..)
            .map(|(&bytes, index)| ShardEntry {
                index,
                object: crate::shard_object_name(index),
                bytes,
                records: 1,
                crc32: 0,
                content_hash: Some(crate::ContentHash(0)),
            })
            .collect();
        Manifest::new("d", "v1", "2026-01-01T00:00:00Z", shards)
    }

    fn object(key: String, size: u64, etag: &str) -> ObjectMeta {
        ObjectMeta {
            key,
            size,
            etag: etag.to_string(),
            last_modified: None,
        }
    }

    /// The marker with ETag "mine" and every shard of `m` as uploaded.
    fn listing(m: &Manifest) -> Vec<ObjectMeta> {
        let mut out = vec![object(publish_marker_key("d", "v1"), 100, "mine")];
        for s in &m.shards {
            out.push(object(shard_key("d", "v1", &s.object), s.bytes, "e"));
        }
        out
    }

    fn check(m: &Manifest, listing: &[ObjectMeta]) -> Result<()> {
        check_uploaded(m, listing, &publish_marker_key("d", "v1"), "mine")
    }

    #[test]
    fn a_complete_upload_under_its_own_marker_passes() {
        let m = manifest(&[10, 0, 30]);
        check(&m, &listing(&m)).expect("complete");
    }

    #[test]
    fn a_missing_or_foreign_marker_fails() {
        let m = manifest(&[10, 20]);
        let mut gone = listing(&m);
        gone.remove(0);
        let err = check(&m, &gone).expect_err("marker deleted");
        assert_eq!(err.kind(), ErrorKind::Conflict);
        let msg = err.to_string();
        assert!(
            msg.contains("d/versions/v1/PUBLISHING.json") && msg.contains("was deleted"),
            "{msg}"
        );

        let mut foreign = listing(&m);
        foreign[0].etag = "theirs".to_string();
        let msg = check(&m, &foreign)
            .expect_err("marker replaced")
            .to_string();
        assert!(msg.contains("replaced"), "{msg}");
    }

    #[test]
    fn missing_and_short_shards_are_all_named() {
        let m = manifest(&[10, 20, 30, 40]);
        let mut objects = listing(&m);
        objects
            .retain(|o| !o.key.ends_with("shard-00001.tsk") && !o.key.ends_with("shard-00003.tsk"));
        objects[1].size = 9;
        let err = check(&m, &objects).expect_err("shards missing");
        assert_eq!(err.kind(), ErrorKind::Conflict);
        let msg = err.to_string();
        assert!(
            msg.contains("3 of 4 shards")
                && msg.contains("shard-00000.tsk (9 bytes, the manifest says 10)")
                && msg.contains("shard-00001.tsk (missing)")
                && msg.contains("shard-00003.tsk (missing)")
                && !msg.contains("shard-00002.tsk"),
            "{msg}"
        );
    }
}
