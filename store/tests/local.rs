//! Behaviour specific to the local-directory store: on-disk layout, crash leftovers,
//! key validation, hard-linked uploads.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tusk_store::{
    Catalog, ErrorKind, GetResult, LocalStore, Manifest, ObjectMeta, ObjectStore, PutMode,
    ShardEntry, StoreError, shard_object_name,
};

fn local() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path().join("root")).expect("store");
    (dir, store)
}

fn manifest_for(dir: &Path, domain: &str, version: &str, shards: &[&[u8]]) -> Manifest {
    let entries: Vec<ShardEntry> = shards
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let object = shard_object_name(i as u32);
            std::fs::write(dir.join(&object), bytes).expect("write shard");
            ShardEntry {
                index: i as u32,
                object,
                bytes: bytes.len() as u64,
                records: 1,
                crc32: crc32fast::hash(bytes),
                content_hash: Some(tusk_store::ContentHash::of(bytes)),
            }
        })
        .collect();
    Manifest::new(domain, version, "2026-01-01T00:00:00Z", entries)
}

#[tokio::test]
async fn layout_on_disk_matches_the_design() {
    let (dir, store) = local();
    let root = store.root().to_path_buf();
    let catalog = Catalog::new(Arc::new(store));
    let shards = tempfile::tempdir().expect("shard dir");
    let manifest = manifest_for(shards.path(), "users", "v1", &[b"aaa", b"bbbb"]);
    catalog
        .publish(&manifest, shards.path())
        .await
        .expect("publish");
    catalog
        .activate("users", "v1", "tester", "first")
        .await
        .expect("activate");
    for rel in [
        "users/versions/v1/shard-00000.tsk",
        "users/versions/v1/shard-00001.tsk",
        "users/versions/v1/MANIFEST.json",
        "users/CURRENT",
        "users/history/0000000001.json",
    ] {
        assert!(
            root.join(rel).is_file(),
            "{rel} missing under {}",
            root.display()
        );
    }
    let on_disk = Manifest::from_json(
        "m",
        &std::fs::read(root.join("users/versions/v1/MANIFEST.json")).expect("read"),
    )
    .expect("parse");
    assert_eq!(on_disk, manifest);
    assert_eq!(
        std::fs::read(shards.path().join("shard-00001.tsk")).expect("source"),
        b"bbbb"
    );
    assert!(catalog.url().starts_with("file:///"), "{}", catalog.url());
    drop(dir);
}

#[tokio::test]
async fn leftovers_of_a_crash_are_invisible() {
    let (_dir, store) = local();
    store
        .put("d/a", Bytes::from_static(b"committed"), PutMode::Overwrite)
        .await
        .expect("put");
    let d = store.root().join("d");
    // A writer died: a temp file of `b` never renamed, one of `a` half written, and a
    // lock file left behind.
    std::fs::write(d.join(".b.tmp-00000000deadbeef"), b"half").expect("leftover");
    std::fs::write(d.join(".a.tmp-0000000000c0ffee"), b"partial new a").expect("leftover");
    std::fs::create_dir_all(d.join("versions/v9")).expect("dir");
    std::fs::write(d.join("versions/v9/.MANIFEST.json.tmp-01"), b"{").expect("leftover");

    let listed: Vec<String> = store
        .list("")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, ["d/a"]);
    assert_eq!(
        store.get("d/b").await.expect_err("b").kind(),
        ErrorKind::NotFound
    );
    assert_eq!(&store.get("d/a").await.expect("a").bytes[..], b"committed");
    let catalog = Catalog::new(Arc::new(store.clone()));
    assert!(catalog.versions("d").await.expect("versions").is_empty());
    // New writes are not disturbed by the leftovers.
    store
        .put("d/b", Bytes::from_static(b"new"), PutMode::Create)
        .await
        .expect("create b");
    assert_eq!(&store.get("d/b").await.expect("b").bytes[..], b"new");
}

#[tokio::test]
async fn bad_keys_are_rejected_and_nothing_escapes_the_root() {
    let (dir, store) = local();
    for key in [
        "../escape",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "a/../../escape",
        ".hidden",
        "a/",
        "",
    ] {
        let err = store
            .put(key, Bytes::from_static(b"x"), PutMode::Overwrite)
            .await
            .expect_err(key);
        assert_eq!(err.kind(), ErrorKind::Invalid, "{key:?}: {err}");
        assert_eq!(
            store.get(key).await.expect_err(key).kind(),
            ErrorKind::Invalid,
            "{key:?}"
        );
        assert_eq!(
            store.delete(key).await.expect_err(key).kind(),
            ErrorKind::Invalid,
            "{key:?}"
        );
    }
    assert_eq!(
        store.list("../").await.expect_err("list ..").kind(),
        ErrorKind::Invalid
    );
    assert!(!dir.path().join("escape").exists());
    let entries: Vec<_> = std::fs::read_dir(store.root()).expect("root").collect();
    assert!(entries.is_empty(), "nothing written: {entries:?}");
}

#[tokio::test]
async fn linked_upload_keeps_source_when_object_is_replaced() {
    let (dir, store) = local();
    let src = dir.path().join("shard.tsk");
    std::fs::write(&src, b"original shard").expect("write");
    store
        .put_file("d/s", &src, crc32fast::hash(b"original shard"))
        .await
        .expect("put_file");
    store
        .put(
            "d/s",
            Bytes::from_static(b"replacement"),
            PutMode::Overwrite,
        )
        .await
        .expect("overwrite");
    assert_eq!(std::fs::read(&src).expect("source"), b"original shard");
    assert_eq!(
        &store.get("d/s").await.expect("get").bytes[..],
        b"replacement"
    );
}

#[tokio::test]
async fn big_object_etag_changes_on_same_size_rewrite() {
    let (_dir, store) = local();
    let a = vec![1u8; 3 << 20];
    let b = vec![2u8; 3 << 20];
    let e1 = store
        .put("d/big", Bytes::from(a), PutMode::Overwrite)
        .await
        .expect("put")
        .etag;
    assert_eq!(store.head("d/big").await.expect("head").etag, e1);
    let e2 = store
        .put("d/big", Bytes::from(b), PutMode::Overwrite)
        .await
        .expect("put")
        .etag;
    assert_ne!(e1, e2);
    let stale = store
        .put("d/big", Bytes::from_static(b"x"), PutMode::UpdateIf(e1))
        .await;
    assert_eq!(stale.expect_err("stale etag").kind(), ErrorKind::Conflict);
    assert!(
        store
            .get_if_changed("d/big", Some(&e2))
            .await
            .expect("poll")
            .is_none()
    );
}

/// Fails `put_file` for one key, to stop a publish half way.
#[derive(Debug)]
struct FailingUploads {
    inner: LocalStore,
    fail_suffix: &'static str,
}

#[async_trait]
impl ObjectStore for FailingUploads {
    fn url(&self) -> String {
        self.inner.url()
    }
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> tusk_store::Result<ObjectMeta> {
        self.inner.put(key, data, mode).await
    }
    async fn put_file(&self, key: &str, path: &Path, crc32: u32) -> tusk_store::Result<ObjectMeta> {
        if key.ends_with(self.fail_suffix) {
            return Err(StoreError::Backend {
                backend: "test",
                key: key.to_string(),
                detail: "injected upload failure".to_string(),
                retryable: true,
            });
        }
        self.inner.put_file(key, path, crc32).await
    }
    async fn get(&self, key: &str) -> tusk_store::Result<GetResult> {
        self.inner.get(key).await
    }
    async fn get_if_changed(
        &self,
        key: &str,
        etag: Option<&str>,
    ) -> tusk_store::Result<Option<GetResult>> {
        self.inner.get_if_changed(key, etag).await
    }
    async fn get_range(&self, key: &str, offset: u64, len: u64) -> tusk_store::Result<Bytes> {
        self.inner.get_range(key, offset, len).await
    }
    async fn head(&self, key: &str) -> tusk_store::Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn list(&self, prefix: &str) -> tusk_store::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> tusk_store::Result<()> {
        self.inner.delete(key).await
    }
}

#[tokio::test]
async fn failed_publish_leaves_no_version() {
    let (_dir, store) = local();
    let failing = Catalog::new(Arc::new(FailingUploads {
        inner: store.clone(),
        fail_suffix: "shard-00005.tsk",
    }));
    let shards = tempfile::tempdir().expect("shard dir");
    let data: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 100]).collect();
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let manifest = manifest_for(shards.path(), "d", "v1", &refs);
    let err = failing
        .publish(&manifest, shards.path())
        .await
        .expect_err("upload fails");
    assert!(err.to_string().contains("shard-00005.tsk"), "{err}");

    let catalog = Catalog::new(Arc::new(store.clone()));
    assert!(catalog.versions("d").await.expect("versions").is_empty());
    assert_eq!(
        catalog
            .manifest("d", "v1")
            .await
            .expect_err("no manifest")
            .kind(),
        ErrorKind::NotFound
    );
    assert!(store.head("d/versions/v1/MANIFEST.json").await.is_err());
    // The debris blocks the id until gc; a new id publishes fine.
    assert_eq!(
        catalog
            .publish(&manifest, shards.path())
            .await
            .expect_err("debris")
            .kind(),
        ErrorKind::Conflict
    );
    let v2 = manifest_for(shards.path(), "d", "v2", &refs);
    catalog
        .publish(&v2, shards.path())
        .await
        .expect("publish v2");
    assert_eq!(catalog.versions("d").await.expect("versions").len(), 1);
}

#[tokio::test]
async fn publish_checks_local_shard_sizes_first() {
    let (_dir, store) = local();
    let catalog = Catalog::new(Arc::new(store.clone()));
    let shards = tempfile::tempdir().expect("shard dir");
    let mut manifest = manifest_for(shards.path(), "d", "v1", &[b"abc"]);
    manifest.shards[0].bytes = 4;
    manifest.bytes = 4;
    let err = catalog
        .publish(&manifest, shards.path())
        .await
        .expect_err("size mismatch");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("shard-00000.tsk"), "{err}");
    assert!(
        store.list("d/").await.expect("list").is_empty(),
        "nothing uploaded"
    );
}

/// A damaged history record makes `history` fail naming it, but `versions` still
/// lists every version (with no marks): an operator in an incident can still see
/// what there is to roll back to.
#[tokio::test]
async fn a_damaged_history_does_not_hide_the_versions() {
    let (_dir, store) = local();
    let root = store.root().to_path_buf();
    let catalog = Catalog::new(Arc::new(store));
    let shards = tempfile::tempdir().expect("tempdir");
    for v in ["v1", "v2"] {
        let manifest = manifest_for(shards.path(), "users", v, &[b"aaaa"]);
        catalog
            .publish(&manifest, shards.path())
            .await
            .expect("publish");
        catalog
            .activate("users", v, "t", "r")
            .await
            .expect("activate");
    }
    std::fs::write(root.join("users/history/0000000099.json"), b"{ not json").expect("damage");

    let err = catalog.history("users").await.expect_err("damaged history");
    assert!(err.to_string().contains("0000000099.json"), "{err}");
    let versions = catalog
        .versions("users")
        .await
        .expect("versions still list");
    let listed: Vec<(&str, bool, bool)> = versions
        .iter()
        .map(|v| (v.manifest.version.as_str(), v.is_current, v.rolled_back))
        .collect();
    assert_eq!(listed, [("v1", false, false), ("v2", true, false)]);
}
