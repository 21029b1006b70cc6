//! The fleet tools with real `tusk serve` processes: `tusk status --servers` lists
//! every node, flags a node whose topology differs and a node that is down (exit 1),
//! and `tusk bench` drives load through the routing client and reports it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tusk_tests::fleet::{LocalFleet, node_config};
use tusk_tests::{ServerProcess, free_port, tusk, tusk_ok, wait_for, write_tsv};

const DOMAIN: &str = "pages";

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Publishes 200 records of [`DOMAIN`] in 8 shards to a local store under `dir`.
fn publish(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    let input = dir.join("in.tsv");
    let records: Vec<(String, String)> = (0..200)
        .map(|i| (format!("key-{i}"), format!("value-{i}")))
        .collect();
    write_tsv(&input, &records);
    tusk_ok(&[
        "write",
        "--store",
        path_str(&store),
        "--domain",
        DOMAIN,
        "--format",
        "tsv",
        "--input",
        path_str(&input),
        "--shards",
        "8",
    ]);
    store
}

/// A node running alone over `store`, with its own data dir.
fn serve_alone(dir: &Path, name: &str, store: &Path) -> ServerProcess {
    let data = dir.join(format!("data-{name}"));
    ServerProcess::start(
        &[
            "--store",
            path_str(store),
            "--domain",
            DOMAIN,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            path_str(&data),
            "--poll-interval",
            "100ms",
        ],
        &dir.join(format!("{name}.log")),
    )
}

/// `tusk status --servers LIST --json`: (exit code, parsed object).
fn fleet_status(servers: &[&str]) -> (Option<i32>, Value) {
    fleet_status_within(servers, "3s")
}

/// [`fleet_status`] with `--timeout TIMEOUT`.
fn fleet_status_within(servers: &[&str], timeout: &str) -> (Option<i32>, Value) {
    let list = servers.join(",");
    let out = tusk(&["status", "--servers", &list, "--timeout", timeout, "--json"]);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    (out.status.code(), json(&stdout))
}

fn flags_of_kind<'a>(status: &'a Value, kind: &str) -> Vec<&'a Value> {
    status["flags"]
        .as_array()
        .expect("flags is an array")
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

fn serving(status: &Value, node: usize) -> bool {
    status["nodes"][node]["domains"][0]["state"] == "serving"
}

#[test]
fn status_servers_lists_nodes_and_flags_a_differing_topology_and_a_dead_node() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = publish(tmp.path());
    let a = serve_alone(tmp.path(), "a", &store);
    let b = serve_alone(tmp.path(), "b", &store);
    let (a_addr, b_addr) = (a.server_arg(), b.server_arg());

    // Two nodes running alone over one store agree: both listed, exit 0.
    let status = wait_for("both nodes to serve", Duration::from_secs(60), || {
        let (code, status) = fleet_status(&[&a_addr, &b_addr]);
        (serving(&status, 0) && serving(&status, 1)).then_some((code, status))
    });
    let (code, status) = status;
    assert_eq!(code, Some(0), "{status}");
    let nodes = status["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["address"], a_addr.as_str());
    assert_eq!(nodes[1]["address"], b_addr.as_str());
    let version = nodes[0]["domains"][0]["serving"].clone();
    assert!(version.is_string(), "{status}");
    assert_eq!(nodes[1]["domains"][0]["serving"], version);
    for node in nodes {
        assert_eq!(node["reachable"], true);
        assert_eq!(
            node["shard_formats"],
            serde_json::json!(["tusk-native-v1", "tusk-native-v2"]),
            "{status}"
        );
        let shards = &node["domains"][0]["shards"][0];
        assert_eq!(shards["shard_count"], 8, "{node}");
        assert_eq!(shards["held"].as_array().map(Vec::len), Some(8), "{node}");
    }
    assert!(
        flags_of_kind(&status, "fingerprint-mismatch").is_empty(),
        "{status}"
    );

    // The human view lists both nodes and says nothing is wrong.
    let text = tusk_ok(&["status", "--servers", &format!("{a_addr},{b_addr}")]);
    assert!(text.contains(&a_addr) && text.contains(&b_addr), "{text}");
    assert!(text.contains("no flags"), "{text}");

    // A third node configured into a fleet of two (itself and one elsewhere).
    let c_port = free_port();
    let c_name = format!("127.0.0.1:{c_port}");
    let config = tmp.path().join("c.toml");
    let c_fleet = [c_name.clone(), "127.0.0.1:1".to_string()];
    let text = node_config(
        &c_fleet,
        0,
        1,
        &tmp.path().join("data-c"),
        &store,
        &[DOMAIN],
        "",
    );
    std::fs::write(&config, text).expect("write the config");
    let c = ServerProcess::start(&["--config", path_str(&config)], &tmp.path().join("c.log"));
    let c_addr = c.server_arg();
    assert_eq!(c_addr, c_name);
    let (code, status) = fleet_status(&[&a_addr, &b_addr, &c_addr]);
    assert_eq!(code, Some(1), "{status}");
    let mismatch = flags_of_kind(&status, "fingerprint-mismatch");
    assert_eq!(mismatch.len(), 1, "{status}");
    assert_eq!(mismatch[0]["severity"], "error");
    assert_eq!(mismatch[0]["nodes"], serde_json::json!([c_addr]));
    let message = mismatch[0]["message"].as_str().expect("message");
    let c_fingerprint = status["nodes"][2]["fingerprint"].as_str().expect("fp");
    let a_fingerprint = status["nodes"][0]["fingerprint"].as_str().expect("fp");
    assert!(
        message.contains(c_fingerprint) && message.contains(a_fingerprint),
        "{message}"
    );
    let unlisted = flags_of_kind(&status, "unlisted-node");
    assert_eq!(unlisted.len(), 1, "{status}");
    assert_eq!(unlisted[0]["severity"], "info");
    assert_eq!(unlisted[0]["nodes"], serde_json::json!(["127.0.0.1:1"]));

    // A node that does not answer is flagged with its error, and the exit is 1.
    let dead = format!("127.0.0.1:{}", free_port());
    let (code, status) = fleet_status(&[&a_addr, &dead]);
    assert_eq!(code, Some(1), "{status}");
    let down = flags_of_kind(&status, "unreachable");
    assert_eq!(down.len(), 1, "{status}");
    assert_eq!(down[0]["nodes"], serde_json::json!([dead]));
    assert!(
        down[0]["message"]
            .as_str()
            .expect("message")
            .contains(&dead),
        "{status}"
    );
    assert_eq!(status["nodes"][1]["reachable"], false);
    assert!(status["nodes"][1]["error"].is_string(), "{status}");

    assert!(c.terminate());
    assert!(b.terminate());
    assert!(a.terminate());
}

/// `tusk bench ... --json` against `server`, parsed.
fn bench(server: &str, keys: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "bench",
        "--servers",
        server,
        "--domain",
        DOMAIN,
        "--keys",
        path_str(keys),
        "--duration",
        "1s",
        "--concurrency",
        "4",
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&tusk_ok(&args))
}

fn assert_clean_run(report: &Value) {
    let requests = report["requests"].as_u64().expect("requests");
    assert!(requests > 0, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["errors_by_code"], serde_json::json!({}), "{report}");
    let p50 = report["p50_us"].as_u64().expect("p50_us");
    let p99 = report["p99_us"].as_u64().expect("p99_us");
    assert!(p50 > 0 && p99 >= p50, "{report}");
    assert!(
        report["p999_us"].as_u64().expect("p999_us") >= p99,
        "{report}"
    );
    assert!(report["rps"].as_f64().expect("rps") > 0.0, "{report}");
    assert!(
        report["worst_window_p99_us"].as_u64().expect("worst") > 0,
        "{report}"
    );
}

#[test]
fn bench_drives_gets_and_multi_gets_and_refuses_an_empty_key_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = publish(tmp.path());
    let node = serve_alone(tmp.path(), "a", &store);
    let addr = node.server_arg();
    wait_for("the node to serve", Duration::from_secs(60), || {
        let (_, status) = fleet_status(&[&addr]);
        serving(&status, 0).then_some(())
    });
    // Half the keys exist; a missing key is an answer, not an error.
    let keys = tmp.path().join("keys.txt");
    let lines: Vec<String> = (0..100).map(|i| format!("key-{}", i * 2)).collect();
    std::fs::write(&keys, format!("{}\n\n", lines.join("\n"))).expect("write keys");

    let gets = bench(&addr, &keys, &["--timeline"]);
    assert_clean_run(&gets);
    let windows = gets["windows"].as_array().expect("windows with --timeline");
    assert!(!windows.is_empty(), "{gets}");
    let in_windows: u64 = windows
        .iter()
        .map(|w| w["requests"].as_u64().expect("window requests"))
        .sum();
    assert_eq!(in_windows, gets["requests"].as_u64().expect("requests"));
    assert_eq!(
        gets["keys"], gets["requests"],
        "a Get reads one key: {gets}"
    );

    let multi = bench(&addr, &keys, &["--multi-get", "10"]);
    assert_clean_run(&multi);
    assert!(multi["windows"].is_null(), "no timeline asked: {multi}");
    assert_eq!(
        multi["keys"].as_u64(),
        multi["requests"].as_u64().map(|r| r * 10),
        "{multi}"
    );

    // An empty key file is refused, naming it.
    let empty = tmp.path().join("no-keys.txt");
    std::fs::write(&empty, "\n\n").expect("write empty keys");
    let out = tusk(&[
        "bench",
        "--servers",
        &addr,
        "--domain",
        DOMAIN,
        "--keys",
        path_str(&empty),
        "--duration",
        "1s",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(path_str(&empty)), "{stderr}");

    // Requests to a domain the node does not serve are counted by code; the run
    // still completes with exit 0.
    let report = json(&tusk_ok(&[
        "bench",
        "--servers",
        &addr,
        "--domain",
        "nosuch",
        "--keys",
        path_str(&keys),
        "--duration",
        "1s",
        "--concurrency",
        "2",
        "--json",
    ]));
    let errors = report["errors"].as_u64().expect("errors");
    assert!(errors > 0, "{report}");
    assert_eq!(report["errors"], report["requests"], "{report}");
    assert_eq!(report["errors_by_code"]["NOT_FOUND"], errors, "{report}");

    assert!(node.terminate());
}

#[test]
fn a_fleet_of_two_splits_the_shards_serves_bench_and_shows_a_gap_when_one_hangs() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = publish(tmp.path());
    let mut fleet = LocalFleet::start(tmp.path(), &store, &[DOMAIN], 2, 1);
    let addrs = fleet.addrs();
    let (a_addr, b_addr) = (addrs[0].as_str(), addrs[1].as_str());

    let (code, status) = wait_for("both nodes to serve", Duration::from_secs(60), || {
        let (code, status) = fleet_status(&[a_addr, b_addr]);
        (serving(&status, 0) && serving(&status, 1)).then_some((code, status))
    });
    assert_eq!(code, Some(0), "{status}");
    let held = |node: usize| -> Vec<u64> {
        status["nodes"][node]["domains"][0]["shards"][0]["held"]
            .as_array()
            .expect("held shards")
            .iter()
            .map(|s| s.as_u64().expect("a shard number"))
            .collect()
    };
    let (held_a, held_b) = (held(0), held(1));
    assert_eq!(held_a.len() + held_b.len(), 8, "replication 1: {status}");
    assert!(held_a.iter().all(|s| !held_b.contains(s)), "{status}");
    assert_eq!(
        status["nodes"][0]["fingerprint"], status["nodes"][1]["fingerprint"],
        "{status}"
    );
    let errors: Vec<_> = status["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(errors.is_empty(), "{status}");

    // The routing client reads every key through both nodes without errors.
    let keys = tmp.path().join("keys.txt");
    let lines: Vec<String> = (0..200).map(|i| format!("key-{i}")).collect();
    std::fs::write(&keys, lines.join("\n")).expect("write keys");
    assert_clean_run(&bench(a_addr, &keys, &["--multi-get", "20"]));

    // A node that hangs (SIGSTOP: its socket accepts, it answers nothing) is
    // unreachable within --timeout, and the shards only it holds are a gap. (Pause
    // one that holds shards: rendezvous may, rarely, give all eight to one node.)
    let (hung, lost) = if held_b.is_empty() {
        (0, held_a)
    } else {
        (1, held_b)
    };
    fleet.pause(hung);
    let (code, status) = fleet_status_within(&[a_addr, b_addr], "1s");
    assert_eq!(code, Some(1), "{status}");
    let down = flags_of_kind(&status, "unreachable");
    assert_eq!(down.len(), 1, "{status}");
    assert_eq!(down[0]["nodes"], serde_json::json!([addrs[hung]]));
    assert!(
        down[0]["message"]
            .as_str()
            .expect("message")
            .contains("no answer within 1s"),
        "{status}"
    );
    let gap = flags_of_kind(&status, "coverage-gap");
    assert_eq!(gap.len(), 1, "{status}");
    let message = gap[0]["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("({} of 8)", lost.len())),
        "{message}"
    );
}
