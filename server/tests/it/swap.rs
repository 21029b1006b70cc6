//! Version swaps: new versions, rollback, refused corrupt versions, one version
//! per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tusk_client::{Code, DomainState};

use crate::common::{Fixture, eventually, http_get, records, wait_for_version};

#[tokio::test]
async fn new_versions_swap_in_old_ones_are_kept_then_dropped() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 100), 3).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;

    // A new version with a different shard count.
    fx.publish("pages", "v2", &records("v2", 120), 5).await;
    fx.activate("pages", "v2").await;
    wait_for_version(&client, "pages", "v2").await;
    let got = client
        .get("pages", b"key-00110", None)
        .await
        .expect("get v2");
    assert_eq!(
        (got.found, got.value.as_ref()),
        (true, &b"v2:key-00110"[..])
    );
    // The previous version stays addressable during a rollout.
    let old = client
        .get("pages", b"key-00050", Some("v1"))
        .await
        .expect("get v1 explicitly");
    assert_eq!(
        (old.value.as_ref(), old.version.as_str()),
        (&b"v1:key-00050"[..], "v1")
    );
    let status = client.status().await.expect("status");
    let d = &status.domains[0];
    assert_eq!(d.current_version, "v2");
    assert_eq!(d.loaded_versions, vec!["v2".to_string(), "v1".to_string()]);
    assert_eq!(d.local_versions, vec!["v1".to_string(), "v2".to_string()]);
    assert_eq!(d.swaps, 2);

    // Rollback swaps back to the version held in memory.
    fx.catalog
        .rollback("pages", None, "tests", "rollback test")
        .await
        .expect("rollback");
    wait_for_version(&client, "pages", "v1").await;

    // A third version: keep_versions = 2 deletes the oldest local copy.
    fx.publish("pages", "v3", &records("v3", 10), 1).await;
    fx.activate("pages", "v3").await;
    wait_for_version(&client, "pages", "v3").await;
    eventually("v2 removed from local disk", || async {
        !fx.local_version("pages", "v2").exists()
    })
    .await;
    assert!(
        fx.local_version("pages", "v1").exists(),
        "the previous version stays on disk"
    );
    let err = client
        .get("pages", b"key-00001", Some("v2"))
        .await
        .expect_err("v2 no longer held");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("holds v3, v1"), "{err}");

    let body = http_get(server.metrics_addr().expect("metrics"), "/metrics").await;
    assert!(
        body.contains("tusk_swaps_total{domain=\"pages\"} 4"),
        "{body}"
    );
    assert!(
        body.contains("tusk_current_version_info{domain=\"pages\",version=\"v3\"} 1"),
        "{body}"
    );
    assert!(!body.contains("version=\"v1\""), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_version_corrupted_in_the_store_is_refused_and_the_old_one_keeps_serving() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 60), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;

    fx.publish("pages", "v2", &records("v2", 60), 2).await;
    // Flip one byte of a stored shard: its CRC32 no longer matches the manifest.
    fx.corrupt_stored_shard("pages", "v2", "shard-00001.tsk");
    fx.activate("pages", "v2").await;

    eventually("the failure is reported", || async {
        let status = client.status().await.expect("status");
        status.domains[0].failed_version == "v2"
    })
    .await;
    let d = client.status().await.expect("status").domains.remove(0);
    assert_eq!(d.state, DomainState::Serving as i32);
    assert_eq!(d.current_version, "v1");
    assert_eq!(d.store_current_version, "v2");
    assert!(
        d.last_error.contains("shard 1") && d.last_error.contains("shard-00001.tsk"),
        "{}",
        d.last_error
    );
    assert_eq!(d.local_versions, vec!["v1".to_string()]);
    assert!(
        !fx.local_version("pages", "v2").exists(),
        "half-downloaded version left behind"
    );

    let got = client
        .get("pages", b"key-00005", None)
        .await
        .expect("still serving");
    assert_eq!(
        (got.value.as_ref(), got.version.as_str()),
        (&b"v1:key-00005"[..], "v1")
    );
    let body = http_get(server.metrics_addr().expect("metrics"), "/metrics").await;
    assert!(
        body.contains("tusk_load_failures_total{domain=\"pages\"} 1"),
        "{body}"
    );

    // Moving CURRENT on to a good version is picked up at once (no backoff).
    fx.publish("pages", "v3", &records("v3", 60), 2).await;
    fx.activate("pages", "v3").await;
    wait_for_version(&client, "pages", "v3").await;
    let d = client.status().await.expect("status").domains.remove(0);
    assert!(d.last_error.is_empty(), "{}", d.last_error);
    server.shutdown().await;
}

#[tokio::test]
async fn each_multi_get_sees_exactly_one_version_across_swaps() {
    let fx = Fixture::new();
    let keys: Vec<Vec<u8>> = records("x", 64).into_iter().map(|(k, _)| k).collect();
    for v in ["v1", "v2", "v3"] {
        fx.publish("pages", v, &records(v, 64), 4).await;
    }
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let client = client.clone();
        let keys = keys.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            let mut requests = 0u32;
            // Bounded: stops when the swaps are done or after 5,000 requests.
            while !done.load(Ordering::Relaxed) && requests < 5_000 {
                let r = client
                    .multi_get("pages", keys.clone(), None)
                    .await
                    .expect("multi_get never fails");
                let prefix = format!("{}:", r.version);
                for (entry, key) in r.entries.iter().zip(&keys) {
                    assert!(
                        entry.found,
                        "key {:?} missing in {}",
                        String::from_utf8_lossy(key),
                        r.version
                    );
                    let expected = [prefix.as_bytes(), key].concat();
                    assert_eq!(
                        entry.value, expected,
                        "a value from another version in a {} answer",
                        r.version
                    );
                }
                seen.insert(r.version);
                requests += 1;
            }
            seen
        })
    };
    for v in ["v2", "v3", "v1"] {
        fx.activate("pages", v).await;
        wait_for_version(&client, "pages", v).await;
    }
    done.store(true, Ordering::Relaxed);
    let seen = reader.await.expect("reader task");
    assert!(!seen.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn a_failed_first_load_is_failed_then_retried_after_the_backoff() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 30), 2).await;
    let object = fx.store_object("pages", "v1", "shard-00000.tsk");
    let good = std::fs::read(&object).expect("read stored shard");
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x01;
    std::fs::write(&object, &bad).expect("corrupt stored shard");
    fx.activate("pages", "v1").await;

    let mut config = fx.config(&["pages"]);
    config.retry_failed_after = std::time::Duration::from_millis(100);
    let (server, client) = fx.start(config).await;
    eventually("the first load fails", || async {
        client.status().await.expect("status").domains[0].state == DomainState::Failed as i32
    })
    .await;
    let err = client
        .get("pages", b"key-00001", None)
        .await
        .expect_err("nothing served");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(
        err.message().contains("shard-00000.tsk"),
        "the last error is in the message: {err}"
    );
    assert_eq!(
        client.health("pages").await.expect("health"),
        tusk_client::ServingStatus::NotServing
    );

    // Repair the stored object; CURRENT does not move, so only the backoff retry
    // can pick it up.
    std::fs::write(&object, &good).expect("repair stored shard");
    wait_for_version(&client, "pages", "v1").await;
    let d = client.status().await.expect("status").domains.remove(0);
    assert_eq!(d.state, DomainState::Serving as i32);
    assert!(
        d.failed_version.is_empty() && d.last_error.is_empty(),
        "{d:?}"
    );
    server.shutdown().await;
}
