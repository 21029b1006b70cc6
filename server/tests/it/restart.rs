//! Restarts: reuse of local versions, sweeping leftovers, an unreachable store.

use tusk_client::DomainState;

use crate::common::{Fixture, eventually, http_get, records, wait_for_version};

#[tokio::test]
async fn a_restart_reuses_local_files_without_downloading() {
    let fx = Fixture::new();
    let manifest = fx.publish("pages", "v1", &records("v1", 80), 3).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    server.shutdown().await;

    // Without the store's shard objects, only the local copies can serve.
    for shard in &manifest.shards {
        std::fs::remove_file(fx.store_object("pages", "v1", &shard.object))
            .expect("delete stored shard");
    }
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    assert_eq!(
        client
            .get("pages", b"key-00079", None)
            .await
            .expect("get")
            .value,
        &b"v1:key-00079"[..]
    );
    let d = client.status().await.expect("status").domains.remove(0);
    assert!(d.note.contains("local disk"), "{}", d.note);
    assert!(d.last_error.is_empty(), "{}", d.last_error);
    server.shutdown().await;
}

#[tokio::test]
async fn start_sweeps_partial_versions_and_temp_files() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 20), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    server.shutdown().await;

    // Leftovers of a crash: a version without its manifest copy, a temp file in a
    // complete version.
    let partial = fx.local_version("pages", "v0-partial");
    std::fs::create_dir_all(&partial).expect("mkdir");
    std::fs::write(partial.join("shard-00000.tsk"), b"half").expect("write");
    let temp = fx.local_version("pages", "v1").join("shard-00001.tsk.part");
    std::fs::write(&temp, b"half").expect("write");

    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    assert!(!partial.exists(), "partial version not swept");
    assert!(!temp.exists(), "temp file not swept");
    let d = client.status().await.expect("status").domains.remove(0);
    assert_eq!(d.local_versions, vec!["v1".to_string()]);
    server.shutdown().await;
}

#[tokio::test]
async fn an_unusable_store_at_start_serves_the_newest_local_version() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 20), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    server.shutdown().await;

    // CURRENT becomes unreadable (garbage instead of the pointer document), so
    // every poll fails as it would with the store down.
    let current = fx.store.path().join("pages").join("CURRENT");
    std::fs::write(&current, b"not a pointer").expect("damage CURRENT");

    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    let d = client.status().await.expect("status").domains.remove(0);
    assert_eq!(d.state, DomainState::Serving as i32);
    assert!(d.note.contains("store unreachable"), "{}", d.note);
    assert!(d.last_error.contains("CURRENT"), "{}", d.last_error);
    server.shutdown().await;
}

#[tokio::test]
async fn a_store_root_deleted_under_a_running_node_is_reported_and_counted() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 20), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;

    std::fs::remove_dir_all(fx.store.path()).expect("delete the store root");
    eventually("the status reports the store", || async {
        let d = client.status().await.expect("status").domains.remove(0);
        d.last_error.contains("CURRENT") && d.last_error.contains("missing")
    })
    .await;
    let d = client.status().await.expect("status").domains.remove(0);
    assert_eq!(d.state, DomainState::Serving as i32, "{d:?}");
    assert_eq!(d.current_version, "v1", "{d:?}");
    let got = client
        .get("pages", b"key-00003", None)
        .await
        .expect("serving");
    assert_eq!(got.value, &b"v1:key-00003"[..]);
    let metrics = http_get(server.metrics_addr().expect("metrics"), "/metrics").await;
    let errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tusk_store_errors_total{domain=\"pages\"} "))
        .and_then(|n| n.trim().parse().ok())
        .expect("store error counter exported");
    assert!(errors >= 1, "{metrics}");

    // The store comes back (a new CURRENT): the error clears.
    fx.publish("pages", "v2", &records("v2", 20), 2).await;
    fx.activate("pages", "v2").await;
    wait_for_version(&client, "pages", "v2").await;
    let d = client.status().await.expect("status").domains.remove(0);
    assert!(d.last_error.is_empty(), "{d:?}");
    server.shutdown().await;
}
