//! Checks of the publish marker (`PUBLISHING.json`): a publish announces itself before
//! uploading, renews its lease, leaves no marker behind, and fails cleanly when gc
//! (or anyone) took its marker or a shard before `MANIFEST.json`; gc keeps a
//! directory with a live marker and collects one whose lease ran out.
//!
//! [`Meddler`] hooks a publish at one point (its first upload, or the listing it
//! checks before the manifest) and does what a concurrent gc or operator would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use super::intercept::{Hooks, Intercepted, Op, injected};
use super::{build_version, expect_kind, fresh, ok, pseudo_random};
use crate::keys::{manifest_key, publish_marker_key, shard_key, version_prefix};
use crate::{
    Catalog, ErrorKind, GcOptions, GcReason, GcReport, Manifest, ObjectStore, PublishMarker,
    PublishOptions, PutMode, Result,
};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Where a [`Meddler`] steps in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    /// Before the publish's first shard upload.
    FirstUpload,
    /// Before the publish lists its version to check it, after all uploads.
    BeforeCheck,
}

/// What it does there.
#[derive(Debug)]
enum Meddle {
    /// Runs a gc of the domain (on the unhooked store) with these options.
    Gc(GcOptions),
    /// Deletes this key.
    Delete(String),
    /// Fails the upload with an injected error.
    FailUpload,
    /// Waits until the publish marker has been renewed, then lets the upload go on.
    AwaitRenewal,
    /// Fails every renewal of the marker from now on, and waits for four of them.
    FailRenewals,
}

/// Hooks that meddle once with the publish of one version, and remember what the
/// marker looked like at the first upload and what a gc they ran reported.
#[derive(Debug)]
struct Meddler {
    inner: Arc<dyn ObjectStore>,
    domain: String,
    version: String,
    at: Point,
    action: Mutex<Option<Meddle>>,
    uploads: AtomicUsize,
    /// Renewals failed so far; `usize::MAX` while renewals go through.
    failed_renewals: AtomicUsize,
    marker_at_upload: Mutex<Option<PublishMarker>>,
    gc: Mutex<Option<GcReport>>,
    /// Keys a gc run by this hook deleted, in order.
    gc_deletes: Arc<Mutex<Vec<String>>>,
}

impl Meddler {
    /// The hooks and a catalog whose store runs them around `inner`.
    fn wrap(
        inner: &Arc<dyn ObjectStore>,
        domain: &str,
        version: &str,
        at: Point,
        action: Meddle,
    ) -> (Arc<Meddler>, Catalog) {
        let hooks = Arc::new(Meddler {
            inner: inner.clone(),
            domain: domain.to_string(),
            version: version.to_string(),
            at,
            action: Mutex::new(Some(action)),
            uploads: AtomicUsize::new(0),
            failed_renewals: AtomicUsize::new(usize::MAX),
            marker_at_upload: Mutex::new(None),
            gc: Mutex::new(None),
            gc_deletes: Arc::new(Mutex::new(Vec::new())),
        });
        let store = Arc::new(Intercepted::new(inner.clone(), hooks.clone()));
        (hooks, Catalog::new(store))
    }

    fn marker_key(&self) -> String {
        publish_marker_key(&self.domain, &self.version)
    }

    async fn read_marker(&self) -> Option<(PublishMarker, String)> {
        let got = self.inner.get(&self.marker_key()).await.ok()?;
        let marker = serde_json::from_slice(&got.bytes).expect("the marker parses");
        Some((marker, got.etag))
    }

    async fn meddle(&self, key: &str) -> Result<()> {
        let action = self.action.lock().expect("hook lock").take();
        match action {
            None => Ok(()),
            Some(Meddle::Gc(options)) => {
                let log = Arc::new(DeleteLog(self.gc_deletes.clone()));
                let logged = Arc::new(Intercepted::new(self.inner.clone(), log));
                let report = Catalog::new(logged).gc(&self.domain, &options).await?;
                *self.gc.lock().expect("hook lock") = Some(report);
                Ok(())
            }
            Some(Meddle::Delete(key)) => self.inner.delete(&key).await,
            Some(Meddle::FailUpload) => Err(injected(key, "upload failure", false)),
            Some(Meddle::AwaitRenewal) => {
                let (_, first) = self.read_marker().await.expect("a marker while uploading");
                for _ in 0..1000 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let (_, now) = self.read_marker().await.expect("the marker stays");
                    if now != first {
                        return Ok(());
                    }
                }
                panic!(
                    "[{}] the publish marker was not renewed within 20 s",
                    self.inner.url()
                );
            }
            Some(Meddle::FailRenewals) => {
                self.failed_renewals.store(0, Ordering::SeqCst);
                for _ in 0..1000 {
                    if self.failed_renewals.load(Ordering::SeqCst) >= 4 {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!(
                    "[{}] the publish did not try to renew its marker within 20 s",
                    self.inner.url()
                );
            }
        }
    }
}

#[async_trait]
impl Hooks for Meddler {
    async fn before(&self, op: Op<'_>) -> Result<()> {
        match op {
            Op::PutFile { key, .. } => {
                if self.uploads.fetch_add(1, Ordering::SeqCst) == 0 {
                    let marker = self.read_marker().await.map(|(m, _)| m);
                    *self.marker_at_upload.lock().expect("hook lock") = marker;
                    if self.at == Point::FirstUpload {
                        return self.meddle(key).await;
                    }
                }
                Ok(())
            }
            Op::Put {
                key,
                mode: PutMode::UpdateIf(_),
            } if key == self.marker_key()
                && self.failed_renewals.load(Ordering::SeqCst) != usize::MAX =>
            {
                self.failed_renewals.fetch_add(1, Ordering::SeqCst);
                Err(injected(key, "renewal failure", true))
            }
            Op::List { prefix }
                if self.at == Point::BeforeCheck
                    && prefix == version_prefix(&self.domain, &self.version)
                    && self.uploads.load(Ordering::SeqCst) > 0 =>
            {
                self.meddle(prefix).await
            }
            _ => Ok(()),
        }
    }
}

/// Logs the keys deleted through it.
#[derive(Debug)]
struct DeleteLog(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl Hooks for DeleteLog {
    async fn before(&self, op: Op<'_>) -> Result<()> {
        if let Op::Delete { key } = op {
            self.0.lock().expect("log lock").push(key.to_string());
        }
        Ok(())
    }
}

/// A version of `domain` with three small shards, ready to publish.
pub(super) fn three_shards(domain: &str, version: &str) -> (tempfile::TempDir, Manifest) {
    let data: Vec<Vec<u8>> = (0..3)
        .map(|i| pseudo_random(300 + i * 41, i as u64 + 5))
        .collect();
    build_version(domain, version, &data)
}

/// Keys under the version's prefix.
pub(super) async fn keys_of(s: &dyn ObjectStore, domain: &str, version: &str) -> Vec<String> {
    ok(
        s,
        "list version",
        s.list(&version_prefix(domain, version)).await,
    )
    .into_iter()
    .map(|o| o.key)
    .collect()
}

/// A publish creates its marker (naming this process, with its lease) before the
/// first upload, renews it while uploading, and leaves none behind, whether it
/// succeeds or fails.
pub async fn check_publish_marker_lifecycle(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let domain = fresh("marker");
    let options = PublishOptions {
        lease: Duration::from_secs(30),
        renew_every: Duration::from_millis(50),
    };

    let (hooks, catalog) = Meddler::wrap(
        &store,
        &domain,
        "v1",
        Point::FirstUpload,
        Meddle::AwaitRenewal,
    );
    let (dir, manifest) = three_shards(&domain, "v1");
    ok(
        s,
        "publish v1",
        catalog.publish_with(&manifest, dir.path(), &options).await,
    );
    let marker = hooks
        .marker_at_upload
        .lock()
        .expect("hook lock")
        .clone()
        .unwrap_or_else(|| panic!("[{}] no publish marker at the first upload", s.url()));
    assert_eq!(
        (marker.domain.as_str(), marker.version.as_str()),
        (domain.as_str(), "v1")
    );
    assert_eq!(marker.pid, std::process::id(), "[{}] {marker:?}", s.url());
    assert_eq!(marker.lease(), options.lease, "[{}] {marker:?}", s.url());
    assert!(!marker.host.is_empty() && !marker.token.is_empty());
    let keys = keys_of(s, &domain, "v1").await;
    assert!(
        keys.contains(&manifest_key(&domain, "v1")),
        "[{}] committed: {keys:?}",
        s.url()
    );
    assert!(
        !keys.contains(&publish_marker_key(&domain, "v1")),
        "[{}] the marker is left behind: {keys:?}",
        s.url()
    );

    // A publish that fails also removes its marker.
    let (_, catalog) = Meddler::wrap(
        &store,
        &domain,
        "v2",
        Point::FirstUpload,
        Meddle::FailUpload,
    );
    let (dir, manifest) = three_shards(&domain, "v2");
    expect_kind(
        s,
        "publish with a failing upload",
        catalog.publish(&manifest, dir.path()).await,
        ErrorKind::Internal,
    );
    let keys = keys_of(s, &domain, "v2").await;
    assert!(
        !keys.contains(&publish_marker_key(&domain, "v2"))
            && !keys.contains(&manifest_key(&domain, "v2")),
        "[{}] after a failed publish: {keys:?}",
        s.url()
    );

    // A marker already there (another writer of the same id) refuses the publish.
    let taken = publish_marker_key(&domain, "v3");
    let theirs = PublishMarker {
        domain: domain.clone(),
        version: "v3".to_string(),
        started_at: "2026-01-01T00:00:00Z".to_string(),
        renewed_at: "2026-01-01T00:00:00.000Z".to_string(),
        lease_ms: 60_000,
        actor: "nightly-job".to_string(),
        host: "builder-7".to_string(),
        pid: 4242,
        token: "0123456789abcdef".to_string(),
    };
    let body = Bytes::from(serde_json::to_vec(&theirs).expect("marker JSON"));
    ok(
        s,
        "put a foreign marker",
        s.put(&taken, body, PutMode::Create).await,
    );
    let (dir, manifest) = three_shards(&domain, "v3");
    let msg = expect_kind(
        s,
        "publish over another writer's marker",
        Catalog::new(store.clone())
            .publish(&manifest, dir.path())
            .await,
        ErrorKind::Conflict,
    );
    assert!(
        msg.contains(
            "another writer (nightly-job on builder-7 (pid 4242), since 2026-01-01T00:00:00Z)"
        ),
        "[{}] names the other writer: {msg}",
        s.url()
    );
    assert_eq!(
        keys_of(s, &domain, "v3").await,
        [taken],
        "[{}] untouched",
        s.url()
    );
}

/// A publish whose marker or shard disappears before its manifest fails naming what
/// is missing, and writes no manifest: marker deleted during the uploads (seen by a
/// renewal or the last one), marker deleted after the uploads, a shard deleted, and
/// renewals failing for longer than the lease.
pub async fn check_publish_fails_without_its_marker(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let domain = fresh("marker-lost");
    let marker = |v: &str| Meddle::Delete(publish_marker_key(&domain, v));
    let cases = [
        ("v1", Point::FirstUpload, marker("v1"), "publish marker"),
        ("v2", Point::BeforeCheck, marker("v2"), "publish marker"),
        (
            "v3",
            Point::BeforeCheck,
            Meddle::Delete(shard_key(&domain, "v3", "shard-00001.tsk")),
            "shard-00001.tsk (missing)",
        ),
        (
            "v4",
            Point::FirstUpload,
            Meddle::FailRenewals,
            "could not be renewed",
        ),
    ];
    for (version, at, action, expected) in cases {
        let (_, catalog) = Meddler::wrap(&store, &domain, version, at, action);
        let (dir, manifest) = three_shards(&domain, version);
        let lease = if version == "v4" { 200 } else { 30_000 };
        let options = PublishOptions {
            lease: Duration::from_millis(lease),
            renew_every: Duration::from_millis(50),
        };
        let msg = expect_kind(
            s,
            &format!("publish {version} after deleting at {at:?}"),
            catalog.publish_with(&manifest, dir.path(), &options).await,
            ErrorKind::Conflict,
        );
        assert!(
            msg.contains(expected) && msg.contains(version),
            "[{}] {version}: the error should name {expected:?}: {msg}",
            s.url()
        );
        let keys = keys_of(s, &domain, version).await;
        assert!(
            !keys.contains(&manifest_key(&domain, version)),
            "[{}] {version}: a manifest was written: {keys:?}",
            s.url()
        );
    }
    let versions = ok(
        s,
        "versions",
        Catalog::new(store.clone()).versions(&domain).await,
    );
    assert!(versions.is_empty(), "[{}] {versions:?}", s.url());
}

/// gc, run between a publish's uploads and its manifest, keeps the directory while
/// the marker is live even though every shard is older than the grace period (here:
/// a lease of 20 days, gc's clock 10 days on); the publish then commits intact.
pub async fn check_gc_keeps_a_live_publish(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let domain = fresh("gc-live");
    let later = SystemTime::now() + 10 * DAY;
    let gc = GcOptions {
        keep: 1,
        grace: DAY,
        dry_run: false,
        now: later,
    };
    // Debris of a dead publish, without a marker: old by then, so gc deletes it.
    let dead = shard_key(&domain, "v0", "shard-00000.tsk");
    ok(
        s,
        "put debris",
        s.put(&dead, Bytes::from(pseudo_random(40, 1)), PutMode::Create)
            .await,
    );
    let (hooks, catalog) = Meddler::wrap(&store, &domain, "v1", Point::BeforeCheck, Meddle::Gc(gc));
    let (dir, manifest) = three_shards(&domain, "v1");
    let options = PublishOptions::with_lease(20 * DAY);
    ok(
        s,
        "publish with gc in the middle",
        catalog.publish_with(&manifest, dir.path(), &options).await,
    );
    let report = hooks
        .gc
        .lock()
        .expect("hook lock")
        .clone()
        .unwrap_or_else(|| panic!("[{}] gc did not run during the publish", s.url()));
    let decided: Vec<(&str, GcReason, bool)> = report
        .entries
        .iter()
        .map(|e| (e.version.as_str(), e.reason, e.delete))
        .collect();
    assert_eq!(
        decided,
        [
            ("v0", GcReason::Debris, true),
            ("v1", GcReason::Publishing, false)
        ],
        "[{}] decisions during the publish",
        s.url()
    );
    let entry = &report.entries[1];
    assert_eq!(entry.objects, 4, "[{}] 3 shards and the marker", s.url());
    assert!(entry.marker_renewed_at.is_some(), "[{}] {entry:?}", s.url());
    let versions = ok(
        s,
        "versions",
        Catalog::new(store.clone()).versions(&domain).await,
    );
    assert_eq!(versions.len(), 1, "[{}] {versions:?}", s.url());
    assert_eq!(versions[0].manifest, manifest);
    for shard in &manifest.shards {
        let got = ok(
            s,
            "get shard",
            s.get(&shard_key(&domain, "v1", &shard.object)).await,
        );
        assert_eq!(
            crc32fast::hash(&got.bytes),
            shard.crc32,
            "[{}] {}",
            s.url(),
            shard.object
        );
    }
    assert!(
        keys_of(s, &domain, "v0").await.is_empty(),
        "[{}] debris left",
        s.url()
    );
}

/// gc, run between a publish's uploads and its manifest with its clock past the
/// marker's lease plus grace, deletes the directory, marker first; the publish then
/// fails naming its marker and commits nothing.
pub async fn check_gc_deletes_a_stale_publish(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let domain = fresh("gc-stale");
    let gc = GcOptions {
        keep: 1,
        grace: DAY,
        dry_run: false,
        now: SystemTime::now() + 10 * DAY,
    };
    let (hooks, catalog) = Meddler::wrap(&store, &domain, "v1", Point::BeforeCheck, Meddle::Gc(gc));
    let (dir, manifest) = three_shards(&domain, "v1");
    let msg = expect_kind(
        s,
        "publish whose marker gc judged stale",
        catalog.publish(&manifest, dir.path()).await,
        ErrorKind::Conflict,
    );
    assert!(
        msg.contains("publish marker"),
        "[{}] names the marker: {msg}",
        s.url()
    );
    let report = hooks
        .gc
        .lock()
        .expect("hook lock")
        .clone()
        .unwrap_or_else(|| panic!("[{}] gc did not run during the publish", s.url()));
    let decided: Vec<(&str, GcReason, bool)> = report
        .entries
        .iter()
        .map(|e| (e.version.as_str(), e.reason, e.delete))
        .collect();
    assert_eq!(decided, [("v1", GcReason::Debris, true)], "[{}]", s.url());
    let deletes = hooks.gc_deletes.lock().expect("log lock").clone();
    assert_eq!(
        deletes.len(),
        4,
        "[{}] marker and 3 shards: {deletes:?}",
        s.url()
    );
    assert_eq!(
        deletes[0],
        publish_marker_key(&domain, "v1"),
        "[{}] the marker goes first: {deletes:?}",
        s.url()
    );
    let keys = keys_of(s, &domain, "v1").await;
    assert!(keys.is_empty(), "[{}] left behind: {keys:?}", s.url());
}
