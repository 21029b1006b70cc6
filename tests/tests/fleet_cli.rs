//! The fleet tools with real `tusk serve` processes: `tusk status --servers` lists
//! every node, flags a node whose topology differs and a node that is down (exit 1),
//! and `tusk bench` drives load through the routing client and reports it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tusk_tests::{ServerProcess, tusk, tusk_ok, wait_for, write_tsv};

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

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// `tusk status --servers LIST --json`: (exit code, parsed object).
fn fleet_status(servers: &[&str]) -> (Option<i32>, Value) {
    let list = servers.join(",");
    let out = tusk(&["status", "--servers", &list, "--timeout", "3s", "--json"]);
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
    std::fs::write(
        &config,
        format!(
            "listen = \"{c_name}\"\ndata_dir = \"{}\"\npoll_interval = \"100ms\"\n\
             [cluster]\nnodes = [\"{c_name}\", \"127.0.0.1:1\"]\nself = \"{c_name}\"\n\
             [[domains]]\nname = \"{DOMAIN}\"\nstore = \"file://{}\"\n",
            tmp.path().join("data-c").display(),
            store.display()
        ),
    )
    .expect("write the config");
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
