//! The status page in a real headless browser (chromium, see `tusk_tests::browser`)
//! against a real `tusk serve` process: the DOM after the page's script ran shows the
//! domain, its state and the served version; mid-download it shows the download's
//! progress (and `tusk status` and `/status.json` its bytes and shards); after the
//! swap it shows the new version and the move.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tusk_tests::browser::{chromium, dump_dom, http_get};
use tusk_tests::{ServerProcess, free_port, tusk_ok, wait_for};

const DOMAIN: &str = "pages";
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Writes `records` records of `value_len` pseudo-random hex characters in `shards`
/// shards and activates them; returns `tusk write --json`'s summary.
fn write(
    store: &Path,
    dir: &Path,
    tag: &str,
    records: usize,
    value_len: usize,
    shards: u32,
) -> Value {
    let input = dir.join(format!("{tag}.tsv"));
    let mut text = String::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ tag.len() as u64;
    for i in 0..records {
        text.push_str(&format!("key-{i:05}\t{tag}-"));
        for _ in 0..value_len / 16 {
            // xorshift: incompressible enough that the shard bytes follow value_len.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(&format!("{x:016x}"));
        }
        text.push('\n');
    }
    std::fs::write(&input, text).expect("write the input");
    let out = tusk_ok(&[
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        DOMAIN,
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--shards",
        &shards.to_string(),
        "--json",
    ]);
    serde_json::from_str(out.trim()).expect("write --json prints JSON")
}

/// `/status.json`, parsed; the domain's entry.
fn domain_status(http: SocketAddr) -> Value {
    let (code, body) = http_get(http, "/status.json");
    assert_eq!(code, 200, "{body}");
    let status: Value = serde_json::from_str(&body).expect("status.json is JSON");
    status["domains"][0].clone()
}

fn served(http: SocketAddr) -> String {
    domain_status(http)["current_version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_page_renders_the_status_in_a_browser_through_a_download_and_a_swap() {
    chromium();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let data = tmp.path().join("data");
    let v1 = write(&store, tmp.path(), "v1", 50, 32, 2)["version"]
        .as_str()
        .expect("a version id")
        .to_string();

    // Slow downloads: ~6 MB at 512 KiB/s (chunks of 128 KiB, so the rate limiter's
    // burst is small) take ~12 s, time to look at one.
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = tmp.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"
data_dir = {data:?}
poll_interval = "100ms"
metrics_listen = "{http}"
download_concurrency = 1
download_rate_limit = "512KiB"
download_chunk_size = "128KiB"

[[domains]]
name = "{DOMAIN}"
store = {store:?}
"#
        ),
    )
    .unwrap();
    let server = ServerProcess::start(
        &["--config", config.to_str().unwrap()],
        &tmp.path().join("server.log"),
    );
    let url = format!("http://{http}/");
    wait_for("v1 to be served", Duration::from_secs(30), || {
        (served(http) == v1).then_some(())
    });

    // The HTML as served carries the data but no rendered markup: what the browser
    // shows below was rendered by the script. (The DOM holds the script's source too,
    // so every marker looked for includes data the source does not.)
    let (code, raw) = http_get(http, "/");
    assert_eq!(code, 200);
    assert!(
        raw.contains(r#"<script id="status-data" type="application/json">"#),
        "{raw}"
    );
    assert!(
        !raw.contains(&format!(r#"data-domain="{DOMAIN}""#)),
        "{raw}"
    );

    let dom = dump_dom(&url, BROWSER_TIMEOUT);
    assert!(dom.contains(&format!(r#"data-domain="{DOMAIN}""#)), "{dom}");
    assert!(
        dom.contains(r#"<span class="state state-serving">serving</span>"#),
        "{dom}"
    );
    assert!(
        dom.contains(&format!(
            r#"<td class="served"><span class="v">{v1}</span></td>"#
        )),
        "the served version: {dom}"
    );
    assert!(
        dom.contains(r#"data-live="ok""#),
        "the script fetched status.json: {dom}"
    );

    // A big version downloads slowly: its progress is in the status and on the page.
    let summary = write(&store, tmp.path(), "v2", 1500, 4000, 8);
    let v2 = summary["version"]
        .as_str()
        .expect("a version id")
        .to_string();
    let total = summary["bytes"].as_u64().expect("the version's bytes");
    let download = wait_for(
        "v2's download to be under way",
        Duration::from_secs(60),
        || {
            let d = domain_status(http);
            let dl = d["downloads"].as_array()?.first()?.clone();
            let done = dl["shards_done"].as_u64()?;
            (done > 0 && done < 8).then_some(dl)
        },
    );
    assert_eq!(download["version"], v2.as_str(), "{download}");
    assert_eq!(download["bytes_total"], total, "{download}");
    assert_eq!(download["shards_total"], 8, "{download}");
    let done = download["bytes_done"].as_u64().expect("bytes_done");
    assert!(done > 0 && done < total, "{download}");
    assert!(download["eta_seconds"].as_u64().is_some(), "{download}");
    let human = tusk_ok(&["status", "--server", &server.server_arg()]);
    assert!(
        human.contains(&format!("downloading      {v2}: ")) && human.contains("ETA "),
        "{human}"
    );
    let dom = dump_dom(&url, BROWSER_TIMEOUT);
    let marker = format!(r#"<div class="dl" data-version="{v2}">"#);
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("the download in progress: {dom}"));
    let bar = &dom[at..];
    let width = bar
        .split_once(r#"<div class="bar"><div style="width:"#)
        .and_then(|(_, rest)| rest.split_once('%'))
        .and_then(|(w, _)| w.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("a progress bar: {bar}"));
    assert!(width > 0.0 && width < 100.0, "{bar}");

    wait_for("v2 to be served", Duration::from_secs(120), || {
        (served(http) == v2).then_some(())
    });
    let dom = dump_dom(&url, BROWSER_TIMEOUT);
    assert!(
        dom.contains(&format!(
            r#"<td class="served"><span class="v">{v2}</span></td>"#
        )),
        "the new version: {dom}"
    );
    assert!(
        !dom.contains(&format!(r#"data-version="{v2}""#)),
        "no download left: {dom}"
    );
    assert!(
        dom.contains(&format!(
            r#"<span class="kind kind-swap">swap</span></td><td><span class="v">{v2}</span>"#
        )),
        "the swap is in the moves: {dom}"
    );
    assert!(server.terminate(), "the server stops cleanly");
}
