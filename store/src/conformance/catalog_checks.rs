//! Checks of publishing, listing and downloading versions.

use std::sync::Arc;

use bytes::Bytes;

use super::{build_version, expect_kind, fresh, ok, pseudo_random, publish_small};
use crate::keys::{manifest_key, shard_key};
use crate::{Catalog, ErrorKind, ObjectStore, PutMode};

/// publish -> the version is listed with its manifest, its shards are stored, the
/// domain is listed; versions come back in id order.
pub async fn check_publish_and_versions(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("publish");
    assert!(
        ok(
            s,
            "versions of a new domain",
            catalog.versions(&domain).await
        )
        .is_empty()
    );

    let m2 = publish_small(&catalog, &domain, "v2", 3).await;
    let m1 = publish_small(&catalog, &domain, "v1", 1).await;
    let versions = ok(s, "versions", catalog.versions(&domain).await);
    let ids: Vec<&str> = versions
        .iter()
        .map(|v| v.manifest.version.as_str())
        .collect();
    assert_eq!(ids, ["v1", "v2"], "[{}] versions in id order", s.url());
    assert_eq!(
        versions[0].manifest,
        m1,
        "[{}] listed manifest = published",
        s.url()
    );
    assert_eq!(
        versions[1].manifest,
        m2,
        "[{}] listed manifest = published",
        s.url()
    );
    assert!(
        versions.iter().all(|v| !v.is_current),
        "[{}] nothing is current yet",
        s.url()
    );
    assert_eq!(ok(s, "manifest", catalog.manifest(&domain, "v2").await), m2);

    for shard in &m2.shards {
        let head = ok(
            s,
            "head shard",
            s.head(&shard_key(&domain, "v2", &shard.object)).await,
        );
        assert_eq!(
            head.size,
            shard.bytes,
            "[{}] stored size of {}",
            s.url(),
            shard.object
        );
    }
    let domains = ok(s, "domains", catalog.domains().await);
    assert!(
        domains.contains(&domain),
        "[{}] {domain} missing from {domains:?}",
        s.url()
    );

    let msg = expect_kind(
        s,
        "manifest of an unknown version",
        catalog.manifest(&domain, "v9").await,
        ErrorKind::NotFound,
    );
    assert!(
        msg.contains(&domain) && msg.contains("v9"),
        "[{}] names domain and version: {msg}",
        s.url()
    );
}

/// Shards without a manifest (a writer that died) are not a version.
pub async fn check_uncommitted_invisible(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("uncommitted");
    publish_small(&catalog, &domain, "v1", 1).await;
    for i in 0..2 {
        let key = shard_key(&domain, "v2", &crate::shard_object_name(i));
        ok(
            s,
            "put shard",
            s.put(&key, Bytes::from(pseudo_random(64, 3)), PutMode::Overwrite)
                .await,
        );
    }
    let versions = ok(s, "versions", catalog.versions(&domain).await);
    let ids: Vec<&str> = versions
        .iter()
        .map(|v| v.manifest.version.as_str())
        .collect();
    assert_eq!(
        ids,
        ["v1"],
        "[{}] an uncommitted version is listed",
        s.url()
    );
    expect_kind(
        s,
        "manifest of uncommitted",
        catalog.manifest(&domain, "v2").await,
        ErrorKind::NotFound,
    );
    expect_kind(
        s,
        "activate uncommitted",
        catalog.activate(&domain, "v2", "t", "r").await,
        ErrorKind::NotFound,
    );
    assert!(ok(s, "current", catalog.current(&domain).await).is_none());

    // A damaged manifest hides that version only.
    ok(
        s,
        "put bad manifest",
        s.put(
            &manifest_key(&domain, "v3"),
            Bytes::from_static(b"{ not json"),
            PutMode::Create,
        )
        .await,
    );
    let versions = ok(
        s,
        "versions with a corrupt manifest",
        catalog.versions(&domain).await,
    );
    assert_eq!(
        versions.len(),
        1,
        "[{}] corrupt manifest must be skipped: {versions:?}",
        s.url()
    );
    expect_kind(
        s,
        "manifest of corrupt",
        catalog.manifest(&domain, "v3").await,
        ErrorKind::Corrupt,
    );
}

/// A version id is published once: again (or over debris) is refused and changes
/// nothing.
pub async fn check_publish_twice_refused(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("twice");
    let first = publish_small(&catalog, &domain, "v1", 2).await;
    let (dir, other) = build_version(&domain, "v1", &[pseudo_random(500, 99)]);
    let msg = expect_kind(
        s,
        "second publish",
        catalog.publish(&other, dir.path()).await,
        ErrorKind::Conflict,
    );
    assert!(msg.contains("v1"), "[{}] names the version: {msg}", s.url());
    assert_eq!(
        ok(s, "manifest", catalog.manifest(&domain, "v1").await),
        first,
        "[{}] manifest changed",
        s.url()
    );
    let shard0 = ok(
        s,
        "get shard",
        s.get(&shard_key(&domain, "v1", &first.shards[0].object))
            .await,
    );
    assert_eq!(
        crc32fast::hash(&shard0.bytes),
        first.shards[0].crc32,
        "[{}] shard overwritten",
        s.url()
    );

    // Debris of a failed publish (shards, no manifest) also blocks the id.
    let debris = shard_key(&domain, "v2", "shard-00000.tsk");
    ok(
        s,
        "put debris",
        s.put(&debris, Bytes::from_static(b"partial"), PutMode::Overwrite)
            .await,
    );
    let (dir, v2) = build_version(&domain, "v2", &[pseudo_random(10, 5)]);
    expect_kind(
        s,
        "publish over debris",
        catalog.publish(&v2, dir.path()).await,
        ErrorKind::Conflict,
    );
}

/// download_shard writes a verified copy; a corrupted or truncated object gives a
/// checksum error and leaves no file.
pub async fn check_download_shard(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("download");
    // Shard 1 spans two 8 MiB download chunks.
    let shards = vec![
        pseudo_random(1000, 1),
        pseudo_random((9 << 20) + 7, 2),
        Vec::new(),
    ];
    let (src, manifest) = build_version(&domain, "v1", &shards);
    ok(s, "publish", catalog.publish(&manifest, src.path()).await);

    let out = tempfile::tempdir().expect("temp dir");
    for (i, bytes) in shards.iter().enumerate() {
        let dest = out.path().join("nested").join(format!("{i}.tsk"));
        ok(
            s,
            "download_shard",
            catalog
                .download_shard(
                    &manifest,
                    i as u32,
                    &dest,
                    &crate::DownloadOptions::default(),
                )
                .await,
        );
        let got = std::fs::read(&dest).expect("read downloaded shard");
        assert!(got == *bytes, "[{}] downloaded shard {i} differs", s.url());
    }
    expect_kind(
        s,
        "download of a shard index out of range",
        catalog
            .download_shard(
                &manifest,
                7,
                &out.path().join("x"),
                &crate::DownloadOptions::default(),
            )
            .await,
        ErrorKind::Invalid,
    );

    // Same size, one bit flipped.
    let key = shard_key(&domain, "v1", &manifest.shards[0].object);
    let mut bad = shards[0].clone();
    bad[500] ^= 0x01;
    ok(
        s,
        "corrupt shard",
        s.put(&key, Bytes::from(bad), PutMode::Overwrite).await,
    );
    let dest = out.path().join("corrupt.tsk");
    let msg = expect_kind(
        s,
        "download of a corrupted shard",
        catalog
            .download_shard(&manifest, 0, &dest, &crate::DownloadOptions::default())
            .await,
        ErrorKind::Corrupt,
    );
    assert!(
        msg.contains(&key),
        "[{}] the error names the key: {msg}",
        s.url()
    );
    assert_no_file(s, &dest);

    // Truncated.
    ok(
        s,
        "truncate shard",
        s.put(
            &key,
            Bytes::from(shards[0][..900].to_vec()),
            PutMode::Overwrite,
        )
        .await,
    );
    expect_kind(
        s,
        "download of a truncated shard",
        catalog
            .download_shard(&manifest, 0, &dest, &crate::DownloadOptions::default())
            .await,
        ErrorKind::Corrupt,
    );
    assert_no_file(s, &dest);
}

fn assert_no_file(s: &dyn ObjectStore, dest: &std::path::Path) {
    assert!(
        !dest.exists(),
        "[{}] {} exists after a failed download",
        s.url(),
        dest.display()
    );
    let mut part = dest.as_os_str().to_owned();
    part.push(".part");
    assert!(
        !std::path::Path::new(&part).exists(),
        "[{}] .part file left behind",
        s.url()
    );
}
