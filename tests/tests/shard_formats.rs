//! Both shard formats through the real binaries: a version written in format 1
//! (`tusk write --shard-format tusk-native-v1`), then one in the default format 2,
//! served by one `tusk serve` that swaps from the first to the second and rolls
//! back, answering each from the right version; the manifests and `tusk inspect`
//! name each version's format.

use std::path::Path;
use std::time::Duration;

use tusk_tests::{ServerProcess, Tusk, tusk_err, tusk_ok, wait_for};

const DOMAIN: &str = "pages";

fn records(tag: &str) -> Vec<(String, String)> {
    (0..200)
        .map(|i| (format!("key-{i:04}"), format!("{tag}-value-{i}")))
        .collect()
}

/// `tusk get --json` of `keys` from `addr`: `(version, values)`, a value `None` when
/// not found; `None` while the server does not answer.
fn get(addr: &str, keys: &[&str]) -> Option<(String, Vec<Option<String>>)> {
    let mut args = vec!["get", "--server", addr, "--domain", DOMAIN, "--json"];
    args.extend_from_slice(keys);
    let out = tusk_tests::tusk(&args);
    if !out.status.success() {
        return None;
    }
    let answers: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let version = answers[0]["version"].as_str()?.to_string();
    let values = answers
        .iter()
        .map(|a| a["value"].as_str().map(str::to_string))
        .collect();
    Some((version, values))
}

/// The `shard_format` the manifest of `version` records.
fn manifest_format(store: &Path, version: &str) -> String {
    let path = store
        .join(DOMAIN)
        .join("versions")
        .join(version)
        .join("MANIFEST.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["shard_format"].as_str().unwrap().to_string()
}

/// `tusk inspect --json` of shard 0 of `version`.
fn inspect(store: &Path, version: &str) -> serde_json::Value {
    let shard = store
        .join(DOMAIN)
        .join("versions")
        .join(version)
        .join("shard-00000.tsk");
    serde_json::from_str(tusk_ok(&["inspect", shard.to_str().unwrap(), "--json"]).trim()).unwrap()
}

#[test]
fn a_server_swaps_between_versions_of_both_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();
    let tusk = Tusk::default();

    let old = tusk.write_version(
        store_arg,
        DOMAIN,
        &tmp.path().join("old.tsv"),
        &records("old"),
        2,
        &["--shard-format", "tusk-native-v1"],
    );
    let old = old["version"].as_str().unwrap().to_string();
    assert_eq!(manifest_format(&store, &old), "tusk-native-v1");
    let shard = inspect(&store, &old);
    assert_eq!(
        (shard["format_version"].as_u64(), shard["format"].as_str()),
        (Some(1), Some("tusk-native-v1"))
    );
    assert_eq!(shard["verified"], true);

    let data = tmp.path().join("data");
    let server = ServerProcess::start(
        &[
            "--store",
            store_arg,
            "--domain",
            DOMAIN,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--poll-interval",
            "100ms",
        ],
        &tmp.path().join("server.log"),
    );
    let addr = server.server_arg();
    let keys = ["key-0000", "key-0123", "key-0199", "absent"];
    let (version, values) = wait_for("the v1-format version", Duration::from_secs(30), || {
        get(&addr, &keys).filter(|(v, _)| v == &old)
    });
    assert_eq!(version, old);
    assert_eq!(
        values,
        [
            Some("old-value-0".to_string()),
            Some("old-value-123".to_string()),
            Some("old-value-199".to_string()),
            None
        ]
    );

    // The default format, published over it: the server swaps to it.
    let new = tusk.write_version(
        store_arg,
        DOMAIN,
        &tmp.path().join("new.tsv"),
        &records("new"),
        2,
        &[],
    );
    let new = new["version"].as_str().unwrap().to_string();
    assert_eq!(manifest_format(&store, &new), "tusk-native-v2");
    let shard = inspect(&store, &new);
    assert_eq!(
        (shard["format_version"].as_u64(), shard["format"].as_str()),
        (Some(2), Some("tusk-native-v2"))
    );
    let (_, values) = wait_for("the v2-format version", Duration::from_secs(30), || {
        get(&addr, &keys).filter(|(v, _)| v == &new)
    });
    assert_eq!(values[1].as_deref(), Some("new-value-123"));
    assert_eq!(values[3], None);

    // And back to the format 1 version, which the node still holds.
    tusk_ok(&[
        "rollback",
        "--store",
        store_arg,
        "--domain",
        DOMAIN,
        "--reason",
        "test: back to the v1-format version",
    ]);
    let (_, values) = wait_for("the rollback", Duration::from_secs(30), || {
        get(&addr, &keys).filter(|(v, _)| v == &old)
    });
    assert_eq!(values[2].as_deref(), Some("old-value-199"));
    assert!(server.terminate());
}

#[test]
fn an_unknown_shard_format_is_refused_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.tsv");
    std::fs::write(&input, "k\tv\n").unwrap();
    let store = tmp.path().join("store");
    let err = tusk_err(&[
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        DOMAIN,
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--shard-format",
        "tusk-native-v3",
    ]);
    assert!(
        err.contains("--shard-format") && err.contains("tusk-native-v3"),
        "{err}"
    );
    assert!(err.contains("tusk-native-v1 and tusk-native-v2"), "{err}");
    assert!(!store.exists(), "nothing written");
}
