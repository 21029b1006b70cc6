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

#[tokio::test]
async fn a_shard_written_in_place_while_the_node_was_down_is_checked_before_it_serves() {
    let fx = Fixture::new();
    let manifest = fx.publish("pages", "v1", &records("v1", 80), 3).await;
    fx.activate("pages", "v1").await;
    let mut config = fx.config(&["pages"]);
    // The scrubber must not be what finds the damage: it reads 1 KiB/s.
    config.scrub_rate = 1024;
    let (server, client) = fx.start(config.clone()).await;
    wait_for_version(&client, "pages", "v1").await;
    server.shutdown().await;
    let local = fx.local_version("pages", "v1");
    assert!(
        local.join("STAMPS.json").is_file(),
        "the check left its stamps"
    );

    // One byte of a value changed in place, the size kept, the mtime moved as a
    // later write moves it.
    let key = b"key-00042";
    let shard = tusk_format::partition::shard_for(key, manifest.shard_count);
    let object = &manifest.shards[shard as usize].object;
    let path = local.join(object);
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes
        .windows(12)
        .position(|w| w == b"v1:key-00042")
        .expect("the value is in its shard");
    bytes[at + 3] = b'K';
    std::fs::write(&path, &bytes).expect("write in place");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(later))
        .expect("set mtime");

    let (server, client) = fx.start(config).await;
    wait_for_version(&client, "pages", "v1").await;
    // Served from a checked file: the right value, not a damaged-record error.
    let got = client.get("pages", key, None).await.expect("get");
    assert_eq!(got.value, &b"v1:key-00042"[..]);
    assert_eq!(
        std::fs::read(&path).expect("read local"),
        std::fs::read(fx.store_object("pages", "v1", object)).expect("read stored"),
        "the changed file was downloaded again"
    );
    server.shutdown().await;
}
