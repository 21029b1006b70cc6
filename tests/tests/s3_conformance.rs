//! The backend conformance suite, unchanged, against an `S3Store` on a real
//! S3-protocol server (moto on 127.0.0.1): each check on its own server (for a
//! precise failure), and the whole suite on one shared server.

use std::sync::Arc;

use tusk_store::ObjectStore;
use tusk_store::conformance as c;
use tusk_tests::s3::MotoServer;

fn store() -> (MotoServer, Arc<dyn ObjectStore>) {
    let moto = MotoServer::start();
    moto.create_bucket("tusk-conformance");
    let store = Arc::new(moto.store("tusk-conformance", "root/of/store"));
    (moto, store)
}

tusk_store::conformance_tests!(store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_on_one_shared_store() {
    let (_moto, store) = store();
    c::run_all(store).await;
}

/// A store at the bucket's root (no prefix) passes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_at_the_bucket_root() {
    let moto = MotoServer::start();
    moto.create_bucket("tusk-root");
    let store: Arc<dyn ObjectStore> = Arc::new(moto.store("tusk-root", ""));
    assert_eq!(store.url(), "s3://tusk-root");
    c::check_list(store.clone()).await;
    c::check_publish_and_versions(store).await;
}
