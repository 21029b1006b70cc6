//! The CLI surface over a real server: `serve --config`, `get --json` with binary
//! values, `status`, `inspect`, and gRPC errors surfacing as one-line reasons.

use std::time::Duration;

use tusk_tests::{ServerProcess, tusk_err, tusk_ok, wait_for};

#[test]
fn get_json_status_inspect_and_errors_through_a_configured_server() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();

    // Binary values via hex: 0xff00 is not UTF-8, "6869" is "hi".
    let input = tmp.path().join("bin.tsv");
    std::fs::write(&input, "k-bin\tff00\nk-text\t6869\nk-empty\t\n").unwrap();
    tusk_ok(&[
        "write",
        "--store",
        store_arg,
        "--domain",
        "blobs",
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--value-encoding",
        "hex",
        "--shards",
        "2",
    ]);

    // Serve from a TOML config file.
    let config = tmp.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\npoll_interval = \"100ms\"\nkeep_versions = 2\n\
             [[domains]]\nname = \"blobs\"\nstore = \"file://{}\"\n",
            tmp.path().join("data").display(),
            store.display()
        ),
    )
    .unwrap();
    let server = ServerProcess::start(
        &["--config", config.to_str().unwrap()],
        &tmp.path().join("server.log"),
    );
    let addr = server.server_arg();
    let out = wait_for("the domain to load", Duration::from_secs(30), || {
        let out = tusk_tests::tusk(&[
            "get", "--server", &addr, "--domain", "blobs", "k-bin", "k-text", "k-empty", "nope",
            "--json",
        ]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    });
    let answers: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0]["key"], "k-bin");
    assert_eq!(answers[0]["found"], true);
    assert_eq!(answers[0]["value"], "/wA=", "non-UTF-8 values are base64");
    assert_eq!(answers[0]["value_encoding"], "base64");
    assert_eq!(answers[1]["value"], "hi");
    assert!(answers[1].get("value_encoding").is_none());
    assert_eq!(answers[2]["found"], true);
    assert_eq!(
        answers[2]["value"], "",
        "empty values are found, not missing"
    );
    assert_eq!(answers[3]["found"], false);
    let version = answers[0]["version"].as_str().unwrap();
    assert!(
        answers.iter().all(|a| a["version"] == version),
        "one MultiGet, one version"
    );

    // Human output of get.
    let text = tusk_ok(&[
        "get", "--server", &addr, "--domain", "blobs", "k-text", "nope",
    ]);
    assert_eq!(text, "k-text\thi\nnope\t(not found)\n");

    // Status as JSON names the domain, its state and version.
    let status: serde_json::Value =
        serde_json::from_str(tusk_ok(&["status", "--server", &addr, "--json"]).trim()).unwrap();
    assert_eq!(status["domains"][0]["name"], "blobs");
    assert_eq!(status["domains"][0]["state"], "serving");
    assert_eq!(status["domains"][0]["current_version"], version);
    // A node running alone is a fleet of one: itself, under its address.
    assert_eq!(status["node"]["node_name"], addr.as_str());
    assert_eq!(
        status["node"]["topology_fingerprint"]
            .as_str()
            .map(str::len),
        Some(16)
    );

    // gRPC errors become one-line reasons.
    let err = tusk_err(&["get", "--server", &addr, "--domain", "nosuch", "k"]);
    assert!(err.contains("nosuch") && err.contains("NOT_FOUND"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let err = tusk_err(&[
        "get",
        "--server",
        &addr,
        "--domain",
        "blobs",
        "--version",
        "v-none",
        "k-bin",
    ]);
    assert!(err.contains("v-none"), "{err}");
    let err = tusk_err(&["get", "--server", "127.0.0.1:1", "--domain", "blobs", "k"]);
    assert!(err.contains("127.0.0.1:1"), "{err}");

    // inspect a shard of the published version.
    let shard = store
        .join("blobs/versions")
        .join(version)
        .join("shard-00000.tsk");
    let report: serde_json::Value = serde_json::from_str(
        tusk_ok(&["inspect", shard.to_str().unwrap(), "--json", "--keys", "10"]).trim(),
    )
    .unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["format_version"], 2);
    assert_eq!(report["format"], "tusk-native-v2");
    let shard1 = store
        .join("blobs/versions")
        .join(version)
        .join("shard-00001.tsk");
    let report1: serde_json::Value =
        serde_json::from_str(tusk_ok(&["inspect", shard1.to_str().unwrap(), "--json"]).trim())
            .unwrap();
    assert_eq!(
        report["records"].as_u64().unwrap() + report1["records"].as_u64().unwrap(),
        3
    );

    // inspect of a damaged copy fails, naming the file.
    let mut bytes = std::fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let damaged = tmp.path().join("damaged.tsk");
    std::fs::write(&damaged, bytes).unwrap();
    let err = tusk_err(&["inspect", damaged.to_str().unwrap()]);
    assert!(err.contains("damaged.tsk"), "{err}");

    assert!(server.terminate());
}

#[test]
fn serve_rejects_bad_configs_with_the_place() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("bad.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\ndata_dir = \"/tmp/x\"\nshards_per_node = 3\n[[domains]]\nname = \"a\"\nstore = \"/tmp/s\"\n").unwrap();
    let err = tusk_err(&["serve", "--config", config.to_str().unwrap()]);
    assert!(
        err.contains("bad.toml") && err.contains("shards_per_node"),
        "{err}"
    );
    let err = tusk_err(&["serve", "--store", "/tmp/s"]);
    assert!(err.contains("--domain"), "{err}");
}

#[test]
fn verify_names_a_shard_whose_content_hash_is_not_the_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();
    let records: Vec<(String, String)> = (0..200)
        .map(|i| (format!("key-{i:03}"), format!("value {i}")))
        .collect();
    let summary = tusk_tests::Tusk::default().write_version(
        store_arg,
        "d",
        &tmp.path().join("in.tsv"),
        &records,
        2,
        &["-q"],
    );
    let version = summary["version"].as_str().expect("version");
    let version_dir = store.join("d/versions").join(version);
    let path = version_dir.join("MANIFEST.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(manifest["format_version"], 2);
    let real = manifest["shards"][1]["content_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let bytes = std::fs::read(version_dir.join("shard-00001.tsk")).unwrap();
    assert_eq!(
        real,
        tusk_store::ContentHash::of(&bytes).to_string(),
        "the writer's hash"
    );
    let verify = [
        "verify",
        "--store",
        store_arg,
        "--domain",
        "d",
        "--version",
        version,
    ];
    tusk_ok(&verify);

    // Everything else (size, CRC32, the shard's own checksums) still matches.
    let wrong = tusk_store::ContentHash::of(b"other bytes").to_string();
    manifest["shards"][1]["content_hash"] = wrong.clone().into();
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let err = tusk_err(&verify);
    assert!(
        err.contains("shard-00001.tsk") && err.contains(&real) && err.contains(&wrong),
        "{err}"
    );
}
