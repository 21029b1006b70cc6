//! `tusk gc` with the real binary: a dry run lists and deletes nothing, the real run
//! deletes old versions and debris, and the current version and the rollback target
//! survive intact.

use std::path::Path;

use serde_json::Value;
use tusk_tests::{tusk_err, tusk_ok, write_tsv};

const DOMAIN: &str = "pages";

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// `tusk <command> --store S --domain D <extra>`.
fn run(command: &str, store: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        command,
        "--store",
        store.to_str().expect("UTF-8 temp path"),
        "--domain",
        DOMAIN,
    ];
    args.extend_from_slice(extra);
    tusk_ok(&args)
}

fn version_ids(store: &Path) -> Vec<String> {
    json(&run("versions", store, &["--json"]))
        .as_array()
        .expect("versions --json prints an array")
        .iter()
        .map(|v| v["version"].as_str().expect("a version id").to_string())
        .collect()
}

/// `(version, reason, delete)` of every entry of a gc report.
fn decisions(report: &Value) -> Vec<(String, String, bool)> {
    report["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["version"].as_str().expect("version").to_string(),
                e["reason"].as_str().expect("reason").to_string(),
                e["delete"].as_bool().expect("delete"),
            )
        })
        .collect()
}

#[test]
fn gc_keeps_current_and_rollback_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    for n in 0..4 {
        let input = dir.path().join(format!("in-{n}.tsv"));
        let records: Vec<(String, String)> = (0..50)
            .map(|i| (format!("key-{i}"), format!("value-{n}-{i}")))
            .collect();
        write_tsv(&input, &records);
        let input = input.to_str().expect("UTF-8 temp path").to_string();
        run(
            "write",
            &store,
            &[
                "--format",
                "tsv",
                "--input",
                &input,
                "--shards",
                "2",
                "--no-activate",
            ],
        );
    }
    // Ids written in one second sort by their random suffix: go by the listed order.
    let ids = version_ids(&store);
    assert_eq!(ids.len(), 4, "{ids:?}");
    for id in &ids {
        run("activate", &store, &[id]);
    }
    run("rollback", &store, &[]);
    let (current, rollback_target) = (&ids[2], &ids[3]);
    // A publish that died: shards, no manifest.
    let debris = store.join(DOMAIN).join("versions").join("zz-dead-publish");
    std::fs::create_dir_all(&debris).expect("debris dir");
    std::fs::write(debris.join("shard-00000.tsk"), b"partial").expect("debris shard");
    let history = run("history", &store, &["--json"]);

    let err = tusk_err(&[
        "gc",
        "--store",
        store.to_str().expect("UTF-8"),
        "--domain",
        DOMAIN,
        "--keep",
        "0",
    ]);
    assert!(err.contains("--keep"), "names the flag: {err}");

    let dry = json(&run(
        "gc",
        &store,
        &["--keep", "1", "--grace", "0s", "--dry-run", "--json"],
    ));
    let expected = vec![
        (ids[0].clone(), "expired".to_string(), true),
        (ids[1].clone(), "expired".to_string(), true),
        (current.clone(), "current".to_string(), false),
        (
            rollback_target.clone(),
            "rollback-target".to_string(),
            false,
        ),
        ("zz-dead-publish".to_string(), "debris".to_string(), true),
    ];
    assert_eq!(decisions(&dry), expected, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["current"], current.as_str());
    assert_eq!(dry["rollback_target"], rollback_target.as_str());
    // Two versions of manifest + 2 shards, and the debris shard.
    assert_eq!(dry["objects_freed"], 7, "{dry}");
    assert_eq!(version_ids(&store), ids, "a dry run deleted something");
    assert!(debris.join("shard-00000.tsk").exists());

    let table = run("gc", &store, &["--keep", "1", "--grace", "0s"]);
    assert!(
        table.contains("deleted 3 version(s), 7 object(s)"),
        "summary line: {table}"
    );
    assert!(table.contains("rollback target"), "reasons shown: {table}");
    assert_eq!(
        version_ids(&store),
        [current.clone(), rollback_target.clone()]
    );
    assert!(!debris.join("shard-00000.tsk").exists());
    assert_eq!(
        run("history", &store, &["--json"]),
        history,
        "history touched"
    );

    let verified = run("verify", &store, &["--json"]);
    assert!(!verified.contains("\"ok\":false"), "verify: {verified}");
    let back = json(&run("rollback", &store, &["--json"]));
    assert_eq!(back["version"], rollback_target.as_str(), "{back}");
    run("verify", &store, &["--version", current]);

    let again = json(&run(
        "gc",
        &store,
        &["--keep", "1", "--grace", "0s", "--json"],
    ));
    assert_eq!(again["objects_freed"], 0, "{again}");
}
