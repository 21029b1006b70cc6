//! Bad writer input fails with the location and publishes nothing.

use std::path::Path;

use tusk_tests::{tusk_err, tusk_ok};

fn versions(store: &Path, domain: &str) -> usize {
    let out = tusk_ok(&[
        "versions",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        domain,
        "--json",
    ]);
    serde_json::from_str::<serde_json::Value>(out.trim())
        .unwrap()
        .as_array()
        .unwrap()
        .len()
}

fn write(
    store: &Path,
    domain: &str,
    format: &str,
    input: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        domain,
        "--format",
        format,
        "--input",
        input.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tusk_tests::tusk(&args)
}

/// Everything under the store's version directories: a failed write must add nothing
/// visible, and must not leave a MANIFEST behind.
fn manifests(store: &Path) -> usize {
    fn walk(dir: &Path, n: &mut usize) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, n);
                } else if p.file_name().is_some_and(|f| f == "MANIFEST.json") {
                    *n += 1;
                }
            }
        }
    }
    let mut n = 0;
    walk(store, &mut n);
    n
}

#[test]
fn bad_input_names_the_place_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let good = tmp.path().join("good.jsonl");
    std::fs::write(
        &good,
        "{\"key\": \"a\", \"value\": \"1\"}\n{\"key\": \"b\", \"value\": \"2\"}\n",
    )
    .unwrap();
    assert!(write(&store, "d", "jsonl", &good, &[]).status.success());
    assert_eq!(versions(&store, "d"), 1);
    let current_before = tusk_ok(&[
        "history",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        "d",
        "--json",
    ]);

    // Malformed JSON on line 3.
    let bad_json = tmp.path().join("bad.jsonl");
    std::fs::write(&bad_json, "{\"key\": \"a\", \"value\": \"1\"}\n{\"key\": \"b\", \"value\": \"2\"}\n{\"key\": \"c\", \"value\": \n{\"key\": \"d\", \"value\": \"4\"}\n").unwrap();
    let out = write(&store, "d", "jsonl", &bad_json, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl:3"), "names file:line: {err}");
    // Progress lines (`tusk write: ...`) may precede the reason.
    let reason = err.lines().filter(|l| !l.starts_with("tusk write: "));
    assert_eq!(reason.count(), 1, "one-line reason: {err}");

    // Invalid base64 value on line 2.
    let bad_b64 = tmp.path().join("bad64.tsv");
    std::fs::write(&bad_b64, "k1\taGVsbG8=\nk2\tnot*base64!\n").unwrap();
    let out = write(
        &store,
        "d",
        "tsv",
        &bad_b64,
        &["--value-encoding", "base64"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad64.tsv:2") && err.contains("base64"),
        "names file:line and the cause: {err}"
    );

    // Duplicate key: named, with both places.
    let dup = tmp.path().join("dup.tsv");
    std::fs::write(&dup, "x\t1\ny\t2\nx\t3\n").unwrap();
    let out = write(&store, "d", "tsv", &dup, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("duplicate key") && err.contains("\"x\""),
        "names the key: {err}"
    );
    assert!(
        err.contains("dup.tsv:1") && err.contains("dup.tsv:3"),
        "names both places: {err}"
    );

    // A TSV line with no tab.
    let notab = tmp.path().join("notab.tsv");
    std::fs::write(&notab, "a\t1\njust-a-key\n").unwrap();
    let err = String::from_utf8_lossy(&write(&store, "d", "tsv", &notab, &[]).stderr).to_string();
    assert!(err.contains("notab.tsv:2"), "{err}");

    // Nothing new is visible, and CURRENT did not move.
    assert_eq!(versions(&store, "d"), 1);
    assert_eq!(manifests(&store), 1);
    assert_eq!(
        tusk_ok(&[
            "history",
            "--store",
            store.to_str().unwrap(),
            "--domain",
            "d",
            "--json"
        ]),
        current_before
    );

    // --on-duplicate last keeps the last value.
    let out = write(
        &store,
        "d",
        "tsv",
        &dup,
        &["--on-duplicate", "last", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["records"], 2);
    assert_eq!(summary["duplicates_dropped"], 1);
    assert_eq!(versions(&store, "d"), 2);
}

#[test]
fn usage_errors_are_one_line_and_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let missing = tmp.path().join("nope.tsv");
    let err = tusk_err(&[
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        "d",
        "--format",
        "tsv",
        "--input",
        missing.to_str().unwrap(),
    ]);
    assert!(err.contains("nope.tsv"), "{err}");
    let err = tusk_err(&[
        "rollback",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        "d",
    ]);
    assert!(
        err.starts_with("tusk: error:") && err.trim().lines().count() == 1,
        "{err}"
    );
    let err = tusk_err(&[
        "activate",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        "d",
        "no-such-version",
    ]);
    // Nothing was ever published to d: the domain is what is wrong.
    assert!(err.contains("unknown domain 'd'"), "{err}");
    let err = tusk_err(&["versions", "--store", "ftp://host/x", "--domain", "d"]);
    assert!(err.contains("ftp"), "{err}");
}
