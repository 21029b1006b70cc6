//! Interrupted downloads: the server keeps serving, reports the interruption,
//! retries with backoff and resumes, fetching only the bytes it did not have.

use std::sync::Arc;
use std::time::Duration;

use tusk_client::{DomainState, Node};
use tusk_server::{RunningServer, Server, ServerConfig};
use tusk_store::conformance::{Intercepted, RangeFaults};
use tusk_store::{LocalStore, ObjectStore};

use crate::common::{Fixture, eventually, http_get, records, wait_for_version};

/// Small chunks so a test shard spans many ranged reads.
const CHUNK: u64 = 4096;

fn config(fx: &Fixture) -> ServerConfig {
    let mut config = fx.config(&["pages"]);
    config.download_chunk_size = CHUNK;
    config.retry_failed_after = Duration::from_millis(200);
    config
}

/// The fixture's store, with ranged reads that fail on demand and are counted.
fn faulty_store(fx: &Fixture) -> (Arc<RangeFaults>, Arc<dyn ObjectStore>) {
    let local = Arc::new(LocalStore::new(fx.store.path()).expect("local store"));
    let faults = Arc::new(RangeFaults::new());
    (faults.clone(), Arc::new(Intercepted::new(local, faults)))
}

async fn start(config: ServerConfig, store: &Arc<dyn ObjectStore>) -> (RunningServer, Node) {
    let store = store.clone();
    let server = Server::builder(config)
        .open_store(move |_| Ok(store.clone()))
        .start()
        .await
        .expect("server starts");
    let client = Node::connect(&server.grpc_addr().to_string())
        .await
        .expect("client connects");
    (server, client)
}

/// Waits until the status of `pages` reports an interrupted download; returns it.
async fn wait_interrupted(client: &Node) -> tusk_client::DomainStatus {
    let status = || async { client.status().await.expect("status").domains.remove(0) };
    eventually("status reports the interrupted download", || async {
        status().await.last_error.contains("interrupted")
    })
    .await;
    // The error stays until a load succeeds, which the still failing store prevents.
    status().await
}

fn resume_files(fx: &Fixture, version: &str) -> usize {
    std::fs::read_dir(fx.local_version("pages", version))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".part.progress"))
                .count()
        })
        .unwrap_or(0)
}

fn load_failures(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("tusk_load_failures_total{domain=\"pages\"} "))
        .and_then(|n| n.trim().parse().ok())
        .expect("load failure counter exported")
}

#[tokio::test]
async fn an_interrupted_download_keeps_serving_and_resumes_with_the_missing_bytes() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 50), 1).await;
    fx.activate("pages", "v1").await;
    let (faults, store) = faulty_store(&fx);
    let (server, client) = start(config(&fx), &store).await;
    wait_for_version(&client, "pages", "v1").await;

    faults.take_served();
    faults.fail_after(5);
    let v2 = fx.publish("pages", "v2", &records("v2", 4000), 2).await;
    assert!(
        v2.bytes > 10 * CHUNK,
        "v2 spans many chunks ({} bytes)",
        v2.bytes
    );
    fx.activate("pages", "v2").await;

    let d = wait_interrupted(&client).await;
    assert_eq!(d.current_version, "v1", "{d:?}");
    assert_eq!(d.state, DomainState::Serving as i32, "{d:?}");
    assert_eq!(d.failed_version, "v2", "{d:?}");
    assert!(
        d.last_error.contains("shard-0000") && d.last_error.contains("will resume"),
        "{d:?}"
    );
    let got = client.get("pages", b"key-00001", None).await.expect("get");
    assert_eq!(
        (got.version.as_str(), got.value.as_ref()),
        ("v1", &b"v1:key-00001"[..])
    );
    assert!(
        resume_files(&fx, "v2") > 0,
        "partial download kept for resume"
    );
    let metrics = http_get(server.metrics_addr().expect("metrics"), "/metrics").await;
    assert!(load_failures(&metrics) >= 1, "{metrics}");

    let first = faults.take_served();
    assert!(first > 0 && first < v2.bytes, "{first} of {}", v2.bytes);
    faults.heal();
    wait_for_version(&client, "pages", "v2").await;
    let second = faults.take_served();
    assert_eq!(first + second, v2.bytes, "no byte fetched twice");

    let d = client.status().await.expect("status").domains.remove(0);
    assert!(
        d.last_error.is_empty() && d.failed_version.is_empty(),
        "{d:?}"
    );
    assert_eq!(resume_files(&fx, "v2"), 0, "sidecars removed once complete");
    let got = client
        .get("pages", b"key-03999", None)
        .await
        .expect("get v2");
    assert_eq!(got.value, &b"v2:key-03999"[..]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_restarted_server_resumes_the_download_of_current_and_sweeps_the_rest() {
    let fx = Fixture::new();
    let v2 = fx.publish("pages", "v2", &records("v2", 4000), 2).await;
    fx.activate("pages", "v2").await;
    let (faults, store) = faulty_store(&fx);
    faults.fail_after(3);
    let (server, client) = start(config(&fx), &store).await;
    let d = wait_interrupted(&client).await;
    assert_eq!(d.state, DomainState::Loading as i32, "still trying: {d:?}");
    server.shutdown().await;
    let first = faults.take_served();
    assert!(first > 0 && first < v2.bytes, "{first} of {}", v2.bytes);
    assert!(
        resume_files(&fx, "v2") > 0,
        "partial download left by the first run"
    );

    // Debris of a version CURRENT no longer names.
    let stale = fx.local_version("pages", "v0");
    std::fs::create_dir_all(&stale).expect("stale dir");
    std::fs::write(stale.join("shard-00000.tsk.part"), b"old").expect("stale part");

    faults.heal();
    let (server, client) = start(config(&fx), &store).await;
    wait_for_version(&client, "pages", "v2").await;
    assert_eq!(
        first + faults.take_served(),
        v2.bytes,
        "resumed, not restarted"
    );
    assert!(!stale.exists(), "other partial versions are swept at start");
    server.shutdown().await;
}
