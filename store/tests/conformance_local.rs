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

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let (_dir, store) = store();
            c::$check(store).await;
        }
    )*};
}

conformance!(
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
    check_rollback_nothing_before,
    check_interrupted_move_is_repaired,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_on_one_shared_store() {
    let (_dir, store) = store();
    c::run_all(store).await;
}
