//! The backend conformance suite against a `LocalStore` in a temp dir: each check on
//! its own store (for a precise failure), and the whole suite on one shared store.

use std::sync::Arc;

use tusk_store::conformance as c;
use tusk_store::{LocalStore, ObjectStore};

fn store() -> (tempfile::TempDir, Arc<dyn ObjectStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path().join("store")).expect("local store");
    (dir, Arc::new(store))
}

tusk_store::conformance_tests!(store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_on_one_shared_store() {
    let (_dir, store) = store();
    c::run_all(store).await;
}
