//! Checks of garbage collection ([`Catalog::gc`]).
//!
//! Objects get the store's real `last_modified`, so "old" is made by passing a `now`
//! days ahead of the real clock, and "young" by a manifest `created_at` close to that
//! `now` (gc counts the later of the two).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use super::intercept::{Hooks, Intercepted, Op, injected};
use super::{build_version, expect_kind, fresh, ok, pseudo_random};
use crate::keys::{manifest_key, shard_key, versions_prefix};
use crate::version_id::rfc3339;
use crate::{
    Catalog, ErrorKind, GcKind, GcOptions, GcReason, GcReport, ObjectMeta, ObjectStore, PutMode,
    Result,
};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Publishes `version` with `shards` shards and the given `created_at`.
async fn publish_at(catalog: &Catalog, domain: &str, version: &str, shards: usize, at: SystemTime) {
    let data: Vec<Vec<u8>> = (0..shards)
        .map(|i| pseudo_random(64 + i * 13, i as u64 + 11))
        .collect();
    let (dir, mut manifest) = build_version(domain, version, &data);
    manifest.created_at = rfc3339(at);
    let s = catalog.store().as_ref();
    ok(
        s,
        &format!("publish {domain} {version}"),
        catalog.publish(&manifest, dir.path()).await,
    );
}

/// `(key, etag)` of every object of `domain`'s versions.
async fn snapshot(s: &dyn ObjectStore, domain: &str) -> Vec<(String, String)> {
    ok(s, "list versions", s.list(&versions_prefix(domain)).await)
        .into_iter()
        .map(|o| (o.key, o.etag))
        .collect()
}

fn reasons(report: &GcReport) -> Vec<(&str, GcReason)> {
    report
        .entries
        .iter()
        .map(|e| (e.version.as_str(), e.reason))
        .collect()
}

/// The rules, a dry run, the real run and a second run over one domain holding
/// every case: current, rollback target, recently current, newest `keep`, young,
/// old, old debris, young debris and a corrupt manifest.
pub async fn check_gc_keeps_and_collects(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let catalog = Catalog::new(store.clone());
    let domain = fresh("gc");
    let real = SystemTime::now();
    let later = real + 10 * DAY;

    for (version, shards) in [("v1", 1), ("v3", 1), ("v4", 1), ("v5", 2), ("v6", 1)] {
        publish_at(&catalog, &domain, version, shards, real).await;
    }
    // Old by id, but its manifest says it was built just before `later`.
    publish_at(&catalog, &domain, "v2", 1, later - DAY / 2).await;
    for i in 0..2 {
        let key = shard_key(&domain, "v35", &crate::shard_object_name(i));
        let data = Bytes::from(pseudo_random(50, 7));
        ok(s, "put debris", s.put(&key, data, PutMode::Overwrite).await);
    }
    let bad = Bytes::from_static(b"{ not a manifest");
    let bad_key = manifest_key(&domain, "v45");
    ok(
        s,
        "put corrupt manifest",
        s.put(&bad_key, bad, PutMode::Create).await,
    );
    // v4 current; v3 the rollback target (the newest older version once current).
    for v in ["v1", "v3", "v4"] {
        ok(
            s,
            "activate",
            catalog.activate(&domain, v, "gc-check", "t").await,
        );
    }
    let history = ok(s, "history", catalog.history(&domain).await);
    let before = snapshot(s, &domain).await;

    expect_kind(
        s,
        "gc with keep 0",
        catalog
            .gc(
                &domain,
                &GcOptions {
                    keep: 0,
                    ..GcOptions::new(1)
                },
            )
            .await,
        ErrorKind::Invalid,
    );

    // Now: everything is young, and v1 was current a moment ago.
    let young = GcOptions {
        keep: 1,
        grace: Duration::from_secs(3600),
        dry_run: true,
        now: SystemTime::now(),
    };
    let report = ok(s, "gc dry run, now", catalog.gc(&domain, &young).await);
    assert_eq!(
        reasons(&report),
        [
            ("v1", GcReason::RecentlyCurrent),
            ("v2", GcReason::YoungerThanGrace),
            ("v3", GcReason::RollbackTarget),
            ("v35", GcReason::YoungerThanGrace),
            ("v4", GcReason::Current),
            ("v45", GcReason::CorruptManifest),
            ("v5", GcReason::YoungerThanGrace),
            ("v6", GcReason::WithinKeep),
        ],
        "[{}] decisions right after publishing",
        s.url()
    );
    assert_eq!((report.objects_freed, report.bytes_freed), (0, 0));

    // Ten days on, with a one-day grace.
    let old = GcOptions {
        keep: 1,
        grace: DAY,
        dry_run: true,
        now: later,
    };
    let dry = ok(s, "gc dry run, later", catalog.gc(&domain, &old).await);
    assert_eq!(
        reasons(&dry),
        [
            ("v1", GcReason::Expired),
            ("v2", GcReason::YoungerThanGrace),
            ("v3", GcReason::RollbackTarget),
            ("v35", GcReason::Debris),
            ("v4", GcReason::Current),
            ("v45", GcReason::CorruptManifest),
            ("v5", GcReason::Expired),
            ("v6", GcReason::WithinKeep),
        ],
        "[{}] decisions ten days later",
        s.url()
    );
    assert!(dry.dry_run);
    assert_eq!(dry.current.as_deref(), Some("v4"));
    assert_eq!(dry.rollback_target.as_deref(), Some("v3"));
    let doomed: Vec<ObjectMeta> = ok(s, "list", s.list(&versions_prefix(&domain)).await)
        .into_iter()
        .filter(|o| ["v1/", "v35/", "v5/"].iter().any(|v| o.key.contains(v)))
        .collect();
    assert_eq!(doomed.len(), 7, "[{}] 2 + 2 + 3 objects", s.url());
    assert_eq!(dry.objects_freed, 7, "[{}] objects freed", s.url());
    assert_eq!(
        dry.bytes_freed,
        doomed.iter().map(|o| o.size).sum::<u64>(),
        "[{}] bytes freed",
        s.url()
    );
    let debris = dry
        .entries
        .iter()
        .find(|e| e.version == "v35")
        .expect("v35");
    assert_eq!((debris.kind, debris.objects), (GcKind::Debris, 2));
    assert_eq!(
        snapshot(s, &domain).await,
        before,
        "[{}] a dry run changed the store",
        s.url()
    );

    let real_run = GcOptions {
        dry_run: false,
        ..old.clone()
    };
    let done = ok(s, "gc", catalog.gc(&domain, &real_run).await);
    assert_eq!(
        done.entries,
        dry.entries,
        "[{}] gc did what the dry run said",
        s.url()
    );
    assert!(!done.dry_run);
    let ids: Vec<String> = ok(s, "versions", catalog.versions(&domain).await)
        .into_iter()
        .map(|v| v.manifest.version)
        .collect();
    assert_eq!(
        ids,
        ["v2", "v3", "v4", "v6"],
        "[{}] versions after gc",
        s.url()
    );
    assert_eq!(ok(s, "history", catalog.history(&domain).await), history);
    let doomed_keys: Vec<&str> = doomed.iter().map(|o| o.key.as_str()).collect();
    let expected: Vec<(String, String)> = before
        .into_iter()
        .filter(|(k, _)| !doomed_keys.contains(&k.as_str()))
        .collect();
    assert_eq!(
        snapshot(s, &domain).await,
        expected,
        "[{}] gc deleted exactly the planned objects",
        s.url()
    );

    let again = ok(s, "second gc", catalog.gc(&domain, &real_run).await);
    assert_eq!(
        again.deleted().count(),
        0,
        "[{}] second gc: {again:?}",
        s.url()
    );
    assert_eq!(again.kept().count(), 5, "[{}] v2 v3 v4 v45 v6", s.url());
}

/// gc deletes `MANIFEST.json` before the shards; stopped in between, the version is
/// already gone from listings and the next gc collects the rest as debris. Also: a
/// domain without `CURRENT` keeps its newest versions.
pub async fn check_gc_deletes_manifest_first(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let domain = fresh("gc-order");
    let (faulty, hooked) = DeleteLog::wrap(store.clone());
    let catalog = Catalog::new(hooked);
    let real = SystemTime::now();
    publish_at(&catalog, &domain, "v1", 3, real).await;
    publish_at(&catalog, &domain, "v2", 1, real).await;
    let options = GcOptions {
        keep: 1,
        grace: DAY,
        dry_run: false,
        now: real + 10 * DAY,
    };

    // Each publish deleted its marker: only gc's deletes count.
    faulty.take_log();
    faulty.fail_shards.store(true, Ordering::SeqCst);
    let msg = expect_kind(
        s,
        "gc with failing shard deletes",
        catalog.gc(&domain, &options).await,
        ErrorKind::Internal,
    );
    assert!(
        msg.contains("shard-0000"),
        "[{}] names the shard: {msg}",
        s.url()
    );
    let log = faulty.take_log();
    assert_eq!(
        log.first().map(String::as_str),
        Some(manifest_key(&domain, "v1").as_str()),
        "[{}] MANIFEST.json must go first: {log:?}",
        s.url()
    );
    let ids: Vec<String> = ok(s, "versions", catalog.versions(&domain).await)
        .into_iter()
        .map(|v| v.manifest.version)
        .collect();
    assert_eq!(
        ids,
        ["v2"],
        "[{}] v1 is invisible once its manifest is gone",
        s.url()
    );

    faulty.fail_shards.store(false, Ordering::SeqCst);
    let report = ok(
        s,
        "gc after the failure",
        catalog.gc(&domain, &options).await,
    );
    assert_eq!(
        reasons(&report),
        [("v1", GcReason::Debris), ("v2", GcReason::WithinKeep)],
        "[{}] the leftovers are debris",
        s.url()
    );
    assert_eq!(report.objects_freed, 3, "[{}] three shards", s.url());
    let left = snapshot(s, &domain).await;
    assert!(
        left.iter().all(|(k, _)| k.contains("/v2/")),
        "[{}] only v2 is left: {left:?}",
        s.url()
    );
}

/// gc stops with `Conflict` when `CURRENT` moves under it, before the next version.
pub async fn check_gc_stops_when_current_moves(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let domain = fresh("gc-moved");
    let (hooked, wrapped) = DeleteLog::wrap(store.clone());
    let catalog = Catalog::new(wrapped);
    let real = SystemTime::now();
    for v in ["v1", "v2", "v3", "v4"] {
        publish_at(&catalog, &domain, v, 1, real).await;
    }
    ok(
        s,
        "activate",
        catalog.activate(&domain, "v4", "t", "t").await,
    );
    *hooked.activate_on_delete.lock().expect("hook lock") = Some((domain.clone(), "v3".into()));
    let options = GcOptions {
        keep: 1,
        grace: DAY,
        dry_run: false,
        now: real + 10 * DAY,
    };
    let msg = expect_kind(
        s,
        "gc while CURRENT moves",
        catalog.gc(&domain, &options).await,
        ErrorKind::Conflict,
    );
    assert!(
        msg.contains("CURRENT moved"),
        "[{}] says why: {msg}",
        s.url()
    );
    let ids: Vec<String> = ok(s, "versions", catalog.versions(&domain).await)
        .into_iter()
        .map(|v| v.manifest.version)
        .collect();
    assert_eq!(ids, ["v2", "v3", "v4"], "[{}] only v1 went", s.url());
}

/// Hooks that log deletes and can fail those of shard objects.
#[derive(Debug)]
struct DeleteLog {
    /// The unhooked store, for the concurrent operator.
    inner: Arc<dyn ObjectStore>,
    log: Mutex<Vec<String>>,
    fail_shards: AtomicBool,
    /// `(domain, version)` to activate at the next delete, as a concurrent operator.
    activate_on_delete: Mutex<Option<(String, String)>>,
}

impl DeleteLog {
    /// The hooks and a store that runs them around `inner`.
    fn wrap(inner: Arc<dyn ObjectStore>) -> (Arc<Self>, Arc<dyn ObjectStore>) {
        let hooks = Arc::new(DeleteLog {
            inner: inner.clone(),
            log: Mutex::new(Vec::new()),
            fail_shards: AtomicBool::new(false),
            activate_on_delete: Mutex::new(None),
        });
        let store = Arc::new(Intercepted::new(inner, hooks.clone()));
        (hooks, store)
    }

    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().expect("log lock"))
    }
}

#[async_trait]
impl Hooks for DeleteLog {
    async fn before(&self, op: Op<'_>) -> Result<()> {
        let Op::Delete { key } = op else {
            return Ok(());
        };
        self.log.lock().expect("log lock").push(key.to_string());
        let activate = self.activate_on_delete.lock().expect("hook lock").take();
        if let Some((domain, version)) = activate {
            let catalog = Catalog::new(self.inner.clone());
            catalog.activate(&domain, &version, "other", "t").await?;
        }
        if key.ends_with(".tsk") && self.fail_shards.load(Ordering::SeqCst) {
            return Err(injected(key, "delete failure", false));
        }
        Ok(())
    }
}
