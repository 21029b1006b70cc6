//! The conformance suite every [`ObjectStore`] backend must pass.
//!
//! Written only against the `ObjectStore` trait and [`Catalog`], so the local store
//! and the S3 store run it unchanged:
//!
//! ```no_run
//! # async fn example() {
//! let dir = tempfile::tempdir().unwrap();
//! let store = std::sync::Arc::new(tusk_store::LocalStore::new(dir.path()).unwrap());
//! tusk_store::conformance::run_all(store).await;
//! # }
//! ```
//!
//! Every check panics with a message naming the store and what went wrong. Each check
//! works under its own fresh prefix / domain (a name plus a random suffix), so checks
//! can share one store, run concurrently, and run again on a store that is not wiped.
//!
//! For fault injection in any test, [`Intercepted`] wraps a store and runs [`Hooks`]
//! around every call; [`RangeFaults`] is the ready-made one for interrupted downloads.

mod barrier;
mod catalog_checks;
mod gc_checks;
mod intercept;
mod marker_checks;
mod objects;
mod pending_checks;
mod pointer_checks;
mod policy_checks;
mod range_faults;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

pub use catalog_checks::{
    check_download_shard, check_publish_and_versions, check_publish_twice_refused,
    check_uncommitted_invisible,
};
pub use gc_checks::{
    check_gc_deletes_manifest_first, check_gc_keeps_and_collects, check_gc_stops_when_current_moves,
};
pub use intercept::{Hooks, Intercepted, Op, injected};
pub use marker_checks::{
    check_gc_deletes_a_stale_publish, check_gc_keeps_a_live_publish,
    check_publish_fails_without_its_marker, check_publish_marker_lifecycle,
};
pub use objects::{
    check_concurrent_create, check_create_conflict, check_delete, check_get_if_changed,
    check_get_range, check_list, check_put_file_round_trip, check_put_get_head, check_update_if,
};
pub use pending_checks::{
    check_pending_publish_commits_one_attempt_per_shard,
    check_pending_publish_fails_or_aborts_cleanly,
};
pub use pointer_checks::{
    check_activate_rollback_history, check_concurrent_activate, check_concurrent_rollback,
    check_expected_current, check_failed_move_never_takes_effect, check_move_faults_at_every_step,
    check_poll_current, check_rollback_nothing_before,
};
pub use policy_checks::{
    check_activation_gated_by_policy, check_concurrent_set_policy, check_policy_set_conditional,
};
pub use range_faults::RangeFaults;

use crate::{Catalog, ErrorKind, Manifest, ObjectStore, ShardEntry, shard_object_name, version_id};

/// Runs every check, one after the other, on `store`.
pub async fn run_all(store: Arc<dyn ObjectStore>) {
    crate::__conformance_list!(@run store);
}

/// Defines one `#[tokio::test]` per conformance check, each on a fresh store from
/// `$make_store()`, which returns `(guard, Arc<dyn ObjectStore>)` (the guard, e.g. a
/// temp dir or a test server, lives as long as the check). The list of checks is kept
/// in one place, so every backend's test file runs every check.
///
/// ```text
/// fn store() -> (tempfile::TempDir, Arc<dyn ObjectStore>) { ... }
/// tusk_store::conformance_tests!(store);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make_store:ident) => {
        $crate::__conformance_list!(@tests $make_store);
    };
}

/// The list of checks behind [`run_all`] and [`conformance_tests!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_list {
    (@$mode:ident $arg:ident) => {
        $crate::__conformance_list!(@$mode $arg;
            check_put_get_head,
            check_list,
            check_delete,
            check_get_range,
            check_create_conflict,
            check_update_if,
            check_get_if_changed,
            check_put_file_round_trip,
            check_concurrent_create,
            check_publish_and_versions,
            check_uncommitted_invisible,
            check_publish_twice_refused,
            check_download_shard,
            check_activate_rollback_history,
            check_poll_current,
            check_concurrent_activate,
            check_concurrent_rollback,
            check_expected_current,
            check_rollback_nothing_before,
            check_gc_keeps_and_collects,
            check_gc_deletes_manifest_first,
            check_gc_stops_when_current_moves,
            check_failed_move_never_takes_effect,
            check_move_faults_at_every_step,
            check_policy_set_conditional,
            check_concurrent_set_policy,
            check_activation_gated_by_policy,
            check_publish_marker_lifecycle,
            check_publish_fails_without_its_marker,
            check_gc_keeps_a_live_publish,
            check_gc_deletes_a_stale_publish,
            check_pending_publish_commits_one_attempt_per_shard,
            check_pending_publish_fails_or_aborts_cleanly
        );
    };
    (@tests $make_store:ident; $($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let (_guard, store) = $make_store();
            $crate::conformance::$check(store).await;
        }
    )*};
    (@run $store:ident; $($check:ident),* $(,)?) => {$(
        $crate::conformance::$check($store.clone()).await;
    )*};
}

/// A fresh name for one check: `conf-<name>-<timestamp>-<random>`.
fn fresh(name: &str) -> String {
    format!(
        "conf-{name}-{}",
        version_id::new_version_id(SystemTime::now())
    )
}

/// Asserts that `result` failed with an error of `kind`; returns its message.
fn expect_kind<T: Debug>(
    store: &dyn ObjectStore,
    what: &str,
    result: crate::Result<T>,
    kind: ErrorKind,
) -> String {
    match result {
        Ok(v) => panic!(
            "[{}] {what}: expected a {kind:?} error, got Ok({v:?})",
            store.url()
        ),
        Err(e) => {
            assert_eq!(
                e.kind(),
                kind,
                "[{}] {what}: wrong error kind for {e}",
                store.url()
            );
            e.to_string()
        }
    }
}

/// Unwraps `result`, panicking with the store URL and `what`.
fn ok<T>(store: &dyn ObjectStore, what: &str, result: crate::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("[{}] {what} failed: {e}", store.url()))
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `shards` as shard files into a new temp dir and returns it with a manifest
/// that describes them. Shard objects are opaque bytes to the store.
fn build_version(domain: &str, version: &str, shards: &[Vec<u8>]) -> (tempfile::TempDir, Manifest) {
    let dir = tempfile::tempdir().expect("temp dir for shard files");
    let entries: Vec<ShardEntry> = shards
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let index = u32::try_from(i).expect("few shards");
            let object = shard_object_name(index);
            write_file(&dir.path().join(&object), bytes);
            ShardEntry {
                index,
                object,
                bytes: bytes.len() as u64,
                records: bytes.len() as u64 / 10,
                crc32: crc32fast::hash(bytes),
                content_hash: Some(crate::ContentHash::of(bytes)),
            }
        })
        .collect();
    let manifest = Manifest {
        writer: BTreeMap::from([("tool".to_string(), "tusk-store conformance".to_string())]),
        ..Manifest::new(
            domain,
            version,
            version_id::rfc3339(SystemTime::now()),
            entries,
        )
    };
    (dir, manifest)
}

/// Builds and publishes a small version with `shard_count` shards; returns its manifest.
async fn publish_small(
    catalog: &Catalog,
    domain: &str,
    version: &str,
    shard_count: usize,
) -> Manifest {
    let shards: Vec<Vec<u8>> = (0..shard_count)
        .map(|i| pseudo_random(100 + i * 37, (i as u64 + 1) * 7919))
        .collect();
    let (dir, manifest) = build_version(domain, version, &shards);
    ok(
        catalog.store().as_ref(),
        &format!("publish {domain} {version}"),
        catalog.publish(&manifest, dir.path()).await,
    );
    manifest
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
