//! What the Status RPC and `/status.json` say about a domain's recent life: the
//! moves the node made (swap, rollback, drop) and the errors it met, in order.

use tusk_client::DomainEvent;

use crate::common::{Fixture, eventually, http_get, records, wait_for_version};

fn kinds(events: &[DomainEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.kind.clone(), e.version.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn swaps_rollbacks_and_drops_are_logged_in_order() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 30), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    fx.publish("pages", "v2", &records("v2", 30), 2).await;
    fx.activate("pages", "v2").await;
    wait_for_version(&client, "pages", "v2").await;
    fx.catalog
        .rollback("pages", None, "tests", "rollback test")
        .await
        .expect("rollback");
    wait_for_version(&client, "pages", "v1").await;
    // keep_versions = 2: swapping to v3 drops v2 from local disk.
    fx.publish("pages", "v3", &records("v3", 30), 2).await;
    fx.activate("pages", "v3").await;
    wait_for_version(&client, "pages", "v3").await;
    eventually("v2's drop is logged", || async {
        let status = client.status().await.expect("status");
        status.domains[0].moves.iter().any(|m| m.kind == "drop")
    })
    .await;

    let d = client.status().await.expect("status").domains.remove(0);
    assert_eq!(
        kinds(&d.moves),
        pairs(&[
            ("swap", "v1"),
            ("swap", "v2"),
            ("rollback", "v1"),
            ("swap", "v3"),
            ("drop", "v2"),
        ])
    );
    assert!(d.moves[2].message.contains("replacing v2"), "{:?}", d.moves);
    assert!(d.recent_errors.is_empty(), "{:?}", d.recent_errors);
    assert!(d.downloads.is_empty(), "{:?}", d.downloads);

    // The page's JSON says the same.
    let addr = server.metrics_addr().expect("metrics");
    let body = http_get(addr, "/status.json").await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("status.json is JSON");
    let moves: Vec<(String, String)> = json["domains"][0]["moves"]
        .as_array()
        .expect("moves")
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap_or_default().to_string(),
                m["version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(moves, kinds(&d.moves));
    assert_eq!(json["domains"][0]["current_version"], "v3");
    let page = http_get(addr, "/").await;
    assert!(
        page.contains(r#"<script id="status-data" type="application/json">"#),
        "{page}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_version_is_in_the_recent_errors() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 30), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;

    fx.publish("pages", "v2", &records("v2", 30), 2).await;
    // Flip one byte of a stored shard: its CRC32 no longer matches the manifest.
    fx.corrupt_stored_shard("pages", "v2", "shard-00001.tsk");
    fx.activate("pages", "v2").await;

    eventually("the refusal is logged", || async {
        let status = client.status().await.expect("status");
        !status.domains[0].recent_errors.is_empty()
    })
    .await;
    let d = client.status().await.expect("status").domains.remove(0);
    let first = &d.recent_errors[0];
    assert_eq!(
        (first.kind.as_str(), first.version.as_str()),
        ("load-error", "v2")
    );
    assert!(first.message.contains("shard-00001.tsk"), "{first:?}");
    assert!(!first.at.is_empty());
    assert_eq!(kinds(&d.moves), pairs(&[("swap", "v1")]), "no move to v2");
    server.shutdown().await;
}
