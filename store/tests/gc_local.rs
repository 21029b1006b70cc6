//! The gc conformance checks against a `LocalStore` in a temp dir, each on its own
//! store so a failure points at one check.

use std::sync::Arc;

use tusk_store::conformance as c;
use tusk_store::{LocalStore, ObjectStore};

fn store() -> (tempfile::TempDir, Arc<dyn ObjectStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path().join("store")).expect("local store");
    (dir, Arc::new(store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_keeps_and_collects() {
    let (_dir, store) = store();
    c::check_gc_keeps_and_collects(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_deletes_manifest_first() {
    let (_dir, store) = store();
    c::check_gc_deletes_manifest_first(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_stops_when_current_moves() {
    let (_dir, store) = store();
    c::check_gc_stops_when_current_moves(store).await;
}
