//! Checks of a publish whose shards others upload ([`Catalog::begin_publish`]): the
//! marker holds the version from `begin` to `commit`, uploads under attempt names
//! stay invisible, the commit names one upload per shard and deletes the others,
//! and a commit that finds a shard missing, or an abort, publishes nothing.

use std::sync::Arc;

use super::marker_checks::{keys_of, three_shards};
use super::{expect_kind, fresh, ok};
use crate::keys::{manifest_key, publish_marker_key, shard_key};
use crate::{Catalog, ErrorKind, Manifest, ObjectStore, PublishOptions, ShardEntry};

/// `manifest`'s shards renamed as uploaded by task attempt `attempt`.
fn as_attempt(manifest: &Manifest, attempt: &str) -> Manifest {
    let shards: Vec<ShardEntry> = manifest
        .shards
        .iter()
        .map(|s| ShardEntry {
            object: format!("shard-{:05}-{attempt}.tsk", s.index),
            ..s.clone()
        })
        .collect();
    Manifest::new(
        &manifest.domain,
        manifest.version.clone(),
        manifest.created_at.clone(),
        shards,
    )
}

/// Begin, upload every shard (shard 1 twice, by two attempts), commit naming one
/// attempt per shard: the version is committed, the marker and the losing upload
/// are gone. A second `begin` of a version in progress, or of a committed one, is
/// refused; so is an upload under a name that is not a plain shard name.
pub async fn check_pending_publish_commits_one_attempt_per_shard(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("pending");
    let (dir, built) = three_shards(&domain, "v1");
    let manifest = as_attempt(&built, "a7");
    let options = PublishOptions::default();

    let pending = ok(
        s,
        "begin_publish",
        catalog
            .begin_publish(&domain, "v1", Some("spark-job"), &options)
            .await,
    );
    assert_eq!(
        (pending.domain(), pending.version()),
        (domain.as_str(), "v1")
    );
    let msg = expect_kind(
        s,
        "a second begin of a version in progress",
        catalog.begin_publish(&domain, "v1", None, &options).await,
        ErrorKind::Conflict,
    );
    assert!(
        msg.contains("spark-job") && msg.contains("v1"),
        "[{}] the error should name the other writer: {msg}",
        s.url()
    );
    for (shard, entry) in built.shards.iter().zip(&manifest.shards) {
        let path = dir.path().join(&shard.object);
        ok(
            s,
            "upload_shard",
            catalog
                .upload_shard(&domain, "v1", &entry.object, &path, entry.crc32)
                .await,
        );
    }
    let losing = "shard-00001-a3.tsk";
    ok(
        s,
        "upload of a losing attempt",
        catalog
            .upload_shard(
                &domain,
                "v1",
                losing,
                &dir.path().join(&built.shards[1].object),
                built.shards[1].crc32,
            )
            .await,
    );
    let msg = expect_kind(
        s,
        "an upload named MANIFEST.json",
        catalog
            .upload_shard(
                &domain,
                "v1",
                "MANIFEST.json",
                &dir.path().join(&built.shards[0].object),
                0,
            )
            .await,
        ErrorKind::Invalid,
    );
    assert!(msg.contains("MANIFEST.json"), "[{}] {msg}", s.url());
    let versions = ok(s, "versions", catalog.versions(&domain).await);
    assert!(
        versions.is_empty(),
        "[{}] visible before the commit: {versions:?}",
        s.url()
    );

    ok(s, "commit", pending.commit(&manifest).await);
    let committed = ok(s, "manifest", catalog.manifest(&domain, "v1").await);
    assert_eq!(committed, manifest, "[{}]", s.url());
    let mut keys = keys_of(s, &domain, "v1").await;
    keys.sort();
    let mut expected: Vec<String> = manifest
        .shards
        .iter()
        .map(|e| shard_key(&domain, "v1", &e.object))
        .chain([manifest_key(&domain, "v1")])
        .collect();
    expected.sort();
    assert_eq!(keys, expected, "[{}] marker or losing upload left", s.url());

    let msg = expect_kind(
        s,
        "begin of a committed version",
        catalog.begin_publish(&domain, "v1", None, &options).await,
        ErrorKind::Conflict,
    );
    assert!(msg.contains("already has"), "[{}] {msg}", s.url());
}

/// A commit that finds a named shard missing fails naming it and writes no
/// manifest; an abort deletes the marker. Neither leaves a version.
pub async fn check_pending_publish_fails_or_aborts_cleanly(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("pending-fail");
    let options = PublishOptions::default();

    let (dir, built) = three_shards(&domain, "v1");
    let manifest = as_attempt(&built, "a1");
    let pending = ok(
        s,
        "begin_publish",
        catalog.begin_publish(&domain, "v1", None, &options).await,
    );
    for (shard, entry) in built.shards.iter().zip(&manifest.shards).take(2) {
        ok(
            s,
            "upload_shard",
            catalog
                .upload_shard(
                    &domain,
                    "v1",
                    &entry.object,
                    &dir.path().join(&shard.object),
                    entry.crc32,
                )
                .await,
        );
    }
    let msg = expect_kind(
        s,
        "commit with shard 2 missing",
        pending.commit(&manifest).await,
        ErrorKind::Conflict,
    );
    assert!(
        msg.contains("shard-00002-a1.tsk (missing)"),
        "[{}] {msg}",
        s.url()
    );
    let keys = keys_of(s, &domain, "v1").await;
    assert!(
        !keys.contains(&manifest_key(&domain, "v1"))
            && !keys.contains(&publish_marker_key(&domain, "v1")),
        "[{}] {keys:?}",
        s.url()
    );

    let pending = ok(
        s,
        "begin_publish v2",
        catalog.begin_publish(&domain, "v2", None, &options).await,
    );
    pending.abort().await;
    let keys = keys_of(s, &domain, "v2").await;
    assert!(keys.is_empty(), "[{}] abort left {keys:?}", s.url());
    let versions = ok(s, "versions", catalog.versions(&domain).await);
    assert!(versions.is_empty(), "[{}] {versions:?}", s.url());
}
