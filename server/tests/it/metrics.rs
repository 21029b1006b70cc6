//! The metrics listener: content negotiation, a strictly parsed 0.0.4 exposition
//! whose families exist and move, `/healthz` and `/readyz`, promtool's lint on a
//! live endpoint, and the Grafana dashboard's metric names.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::common::{Fixture, eventually, records, wait_for_version};
use crate::exposition::{Exposition, fetch, parse};

/// Scrapes `/metrics` (default format) and parses it strictly.
pub(crate) async fn scrape(addr: SocketAddr) -> Exposition {
    let answer = fetch(addr, "/metrics", None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    parse(&answer.body).unwrap_or_else(|e| panic!("{e}\n{}", answer.body))
}

#[tokio::test]
async fn text_format_by_default_openmetrics_when_asked() {
    let fx = Fixture::new();
    let (server, _client) = fx.start(fx.config(&["pages"])).await;
    let addr = server.metrics_addr().expect("metrics bound");

    let plain = fetch(addr, "/metrics", None).await;
    assert_eq!(
        plain.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        plain.body.contains("# TYPE tusk_swaps_total counter\n"),
        "{}",
        plain.body
    );
    assert!(!plain.body.contains("# EOF"), "{}", plain.body);
    parse(&plain.body).unwrap_or_else(|e| panic!("{e}\n{}", plain.body));

    let om = fetch(
        addr,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    )
    .await;
    assert!(
        om.content_type.starts_with("application/openmetrics-text"),
        "{}",
        om.content_type
    );
    assert!(
        om.body.contains("# TYPE tusk_swaps counter\n"),
        "{}",
        om.body
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    server.shutdown().await;
}

#[tokio::test]
async fn families_exist_and_move() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 40), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    let addr = server.metrics_addr().expect("metrics bound");
    wait_for_version(&client, "pages", "v1").await;

    let ok_gets = [("domain", "pages"), ("method", "Get"), ("code", "OK")];
    let before = scrape(addr).await;
    let gets_before = before.value("tusk_requests_total", &ok_gets);
    for i in 0..5 {
        let key = format!("key-{i:05}");
        client
            .get("pages", key.as_bytes(), None)
            .await
            .expect("get");
    }
    let _ = client.get("nosuch", b"k", None).await;
    client
        .multi_get("pages", vec![b"key-00001".to_vec()], None)
        .await
        .expect("multi get");
    let after = scrape(addr).await;

    assert_eq!(
        after.value("tusk_requests_total", &ok_gets),
        gets_before + 5.0
    );
    let get_latency = [("domain", "pages"), ("method", "Get")];
    assert!(
        after.value("tusk_request_duration_seconds_count", &get_latency)
            >= before.value("tusk_request_duration_seconds_count", &get_latency) + 5.0
    );
    // The finest bucket resolves microseconds.
    assert_eq!(
        after
            .matching("tusk_request_duration_seconds_bucket", &get_latency)
            .map(|s| s.labels["le"].as_str())
            .next(),
        Some("0.00001")
    );
    assert_eq!(
        after.value(
            "tusk_requests_total",
            &[("domain", "pages"), ("method", "MultiGet"), ("code", "OK")]
        ),
        1.0
    );
    // An unknown domain is one series, not one per name.
    assert_eq!(
        after.value(
            "tusk_requests_total",
            &[
                ("domain", "(unknown)"),
                ("method", "Get"),
                ("code", "NotFound")
            ]
        ),
        1.0
    );
    let pages = [("domain", "pages")];
    for (state, want) in [("serving", 1.0), ("loading", 0.0), ("failed", 0.0)] {
        assert_eq!(
            after.value(
                "tusk_domain_state",
                &[("domain", "pages"), ("state", state)]
            ),
            want,
            "{state}"
        );
    }
    assert!(after.value("tusk_version_created_timestamp_seconds", &pages) > 1.0e9);
    assert_eq!(after.value("tusk_version_behind_current", &pages), 0.0);
    assert!(after.value("tusk_mapped_bytes", &pages) > 0.0);
    assert!(after.value("tusk_disk_bytes", &pages) >= after.value("tusk_mapped_bytes", &pages));
    assert!(after.value("tusk_last_poll_success_timestamp_seconds", &pages) > 1.0e9);
    assert_eq!(after.value("tusk_store_errors_total", &pages), 0.0);
    assert!(after.value("tusk_download_bytes_total", &pages) > 0.0);
    assert_eq!(
        after.value("tusk_download_duration_seconds_count", &pages),
        1.0
    );
    assert_eq!(after.value("tusk_downloads_in_progress", &pages), 0.0);
    assert_eq!(after.value("tusk_download_retries_total", &pages), 0.0);
    assert!(after.families.contains_key("tusk_scrubbed_shards_total"));
    assert!(after.families.contains_key("tusk_damaged_shards_total"));
    let build: Vec<_> = after.matching("tusk_build_info", &[]).collect();
    assert_eq!(build.len(), 1, "{build:?}");
    assert_eq!(build[0].labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(build[0].value, 1.0);
    if cfg!(target_os = "linux") {
        assert!(after.value("process_resident_memory_bytes", &[]) > 0.0);
        assert!(after.value("process_open_fds", &[]) > 0.0);
        assert!(after.value("process_start_time_seconds", &[]) > 1.0e9);
        assert!(after.value("process_cpu_seconds_total", &[]) >= 0.0);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn behind_current_flips_when_current_moves_and_back_after_the_swap() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 40), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    let addr = server.metrics_addr().expect("metrics bound");
    wait_for_version(&client, "pages", "v1").await;
    let pages = [("domain", "pages")];
    assert_eq!(
        scrape(addr)
            .await
            .value("tusk_version_behind_current", &pages),
        0.0
    );

    // CURRENT moves to a version whose stored shard is damaged: it is refused, so
    // v1 keeps serving behind CURRENT.
    fx.publish("pages", "v2", &records("v2", 40), 2).await;
    fx.corrupt_stored_shard("pages", "v2", "shard-00001.tsk");
    fx.activate("pages", "v2").await;
    eventually("behind CURRENT", || async {
        scrape(addr)
            .await
            .value("tusk_version_behind_current", &pages)
            == 1.0
    })
    .await;
    eventually("the failed download counted", || async {
        scrape(addr).await.value("tusk_load_failures_total", &pages) >= 1.0
    })
    .await;

    fx.publish("pages", "v3", &records("v3", 40), 2).await;
    fx.activate("pages", "v3").await;
    wait_for_version(&client, "pages", "v3").await;
    let after = scrape(addr).await;
    assert_eq!(after.value("tusk_version_behind_current", &pages), 0.0);
    assert_eq!(
        after.value("tusk_current_version_info", &[("version", "v3")]),
        1.0
    );
    server.shutdown().await;
}

#[tokio::test]
async fn readyz_waits_for_every_domain_and_healthz_answers_at_once() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 10), 1).await;
    fx.activate("pages", "v1").await;
    // "users" has no CURRENT yet.
    let (server, client) = fx.start(fx.config(&["pages", "users"])).await;
    let addr = server.metrics_addr().expect("metrics bound");

    let health = fetch(addr, "/healthz", None).await;
    assert_eq!(health.status, 200, "{}", health.body);
    wait_for_version(&client, "pages", "v1").await;
    let not_ready = fetch(addr, "/readyz", None).await;
    assert_eq!(not_ready.status, 503, "{}", not_ready.body);
    assert!(not_ready.body.contains("users"), "{}", not_ready.body);
    assert!(!not_ready.body.contains("pages"), "{}", not_ready.body);
    assert_eq!(
        scrape(addr).await.value(
            "tusk_domain_state",
            &[("domain", "users"), ("state", "loading")]
        ),
        1.0
    );

    fx.publish("users", "u1", &records("u1", 10), 1).await;
    fx.activate("users", "u1").await;
    eventually("ready", || async {
        fetch(addr, "/readyz", None).await.status == 200
    })
    .await;
    server.shutdown().await;
}

/// promtool: `TUSK_PROMTOOL`, else the one `scripts/install-promtool` unpacks,
/// else `promtool` on the PATH.
fn promtool() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TUSK_PROMTOOL") {
        return Some(p.into());
    }
    let local =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/promtool/usr/bin/promtool");
    if local.is_file() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    })
}

#[tokio::test]
async fn promtool_accepts_the_live_exposition() {
    // Never skipped: `scripts/test` (and CI) install promtool first.
    let promtool = promtool().expect(
        "promtool not found: run scripts/install-promtool (scripts/test does), or set TUSK_PROMTOOL",
    );
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 20), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    client.get("pages", b"key-00001", None).await.expect("get");
    let _ = client.get("pages", b"", None).await;
    let body = fetch(server.metrics_addr().expect("metrics"), "/metrics", None)
        .await
        .body;
    server.shutdown().await;

    use std::io::Write;
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", promtool.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool check metrics: {}\n{}{}\n{body}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `expr` string anywhere in a dashboard.
fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if k == "expr" => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_dashboard_uses_only_exported_metrics() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ops/grafana/tusk.json");
    let text = std::fs::read_to_string(&path).expect("read the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(dashboard["title"].is_string() && dashboard["panels"].is_array());
    let mut found = Vec::new();
    exprs(&dashboard, &mut found);
    assert!(found.len() >= 8, "{found:?}");

    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 20), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    client.get("pages", b"key-00001", None).await.expect("get");
    let exposed = scrape(server.metrics_addr().expect("metrics")).await;
    server.shutdown().await;

    // Every selector in the dashboard is written `name{...}` (label names never
    // precede a `{`), so the word before each `{` is a metric name.
    let mut names = std::collections::BTreeSet::new();
    for expr in &found {
        for (i, _) in expr.match_indices('{') {
            let name: String = expr[..i]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(
                !name.is_empty(),
                "a selector without a metric name in {expr:?}"
            );
            names.insert(name);
        }
    }
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        assert!(
            exposed.family_of(name).is_some(),
            "the dashboard uses {name}, which the server does not export"
        );
    }
}
