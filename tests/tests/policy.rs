//! `tusk policy set/show/history/check` and `tusk diff --json` on real processes
//! over a local store.

use std::path::Path;

use serde_json::Value;
use tusk_tests::{tusk_err, tusk_ok, write_tsv};

fn records(range: std::ops::Range<usize>, tag: &str) -> Vec<(String, String)> {
    range
        .map(|i| (format!("key-{i:04}"), format!("value-{i}-{tag}")))
        .collect()
}

/// `tusk write` of `records` with `shards` shards, not activated; returns the new
/// version id.
fn write(store: &str, dir: &Path, name: &str, records: &[(String, String)], shards: u32) -> String {
    let input = dir.join(format!("{name}.tsv"));
    write_tsv(&input, records);
    let out = tusk_write(store, &input, shards, &["--no-activate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("write --json");
    summary["version"].as_str().expect("a version").to_string()
}

/// `tusk write --json` of the TSV file `input` into domain `pages` with `shards`
/// shards and the `extra` flags; returns the finished process.
fn tusk_write(store: &str, input: &Path, shards: u32, extra: &[&str]) -> std::process::Output {
    let shards = shards.to_string();
    let mut args = vec![
        "write",
        "--store",
        store,
        "--domain",
        "pages",
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--shards",
        &shards,
        "--json",
    ];
    args.extend_from_slice(extra);
    tusk_tests::tusk(&args)
}

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn policy_set_show_history_and_conflicts() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let s = store.to_str().unwrap();
    let base = ["--store", s, "--domain", "pages"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(base.iter())
            .map(|a| a.to_string())
            .collect()
    };
    let run_ok = |args: &[&str]| {
        let args = with(args);
        tusk_ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let run_err = |args: &[&str]| {
        let args = with(args);
        tusk_err(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Neither the store nor the domain exists yet: showing is refused, creating
    // nothing; a policy may still be set before the first version.
    assert!(run_err(&["policy", "show"]).contains("no store at"));
    std::fs::create_dir_all(&store).unwrap();
    assert!(run_err(&["policy", "show"]).contains("unknown domain 'pages'"));

    let golden = tmp.path().join("golden.tsv");
    std::fs::write(&golden, "home\nabout\tAbout us\n").unwrap();
    let set = json(&run_ok(&[
        "policy",
        "set",
        "--min-records",
        "100",
        "--max-shrink",
        "20%",
        "--max-growth",
        "records:300%",
        "--golden",
        golden.to_str().unwrap(),
        "--reason",
        "launch gates",
        "--json",
    ]));
    assert_eq!(set["seq"], 1);

    let shown = json(&run_ok(&["policy", "show", "--json"]));
    assert_eq!(shown["default"], false);
    assert_eq!(shown["seq"], 1);
    assert_eq!(shown["reason"], "launch gates");
    let p = &shown["policy"];
    assert_eq!(p["min_records"], 100);
    assert_eq!(p["max_shrink"]["records"], "20%");
    assert_eq!(p["max_shrink"]["bytes"], "20%");
    assert_eq!(p["max_growth"]["records"], "300%");
    assert_eq!(p["max_growth"]["bytes"], Value::Null);
    assert_eq!(p["golden"][0]["key"], "aG9tZQ==", "base64 of home");
    assert!(p["golden"][0].get("value").is_none());
    assert_eq!(
        p["golden"][1]["value"], "QWJvdXQgdXM=",
        "base64 of About us"
    );
    let text = run_ok(&["policy", "show"]);
    assert!(text.contains("about = About us"), "{text}");

    // Flags not given keep their value; `none` removes a limit.
    run_ok(&["policy", "set", "--max-shrink", "bytes:none"]);
    let p = json(&run_ok(&["policy", "show", "--json"]))["policy"].clone();
    assert_eq!(p["min_records"], 100);
    assert_eq!(p["max_shrink"]["records"], "20%");
    assert_eq!(p["max_shrink"]["bytes"], Value::Null);
    assert_eq!(p["golden"].as_array().unwrap().len(), 2);

    // A set conditioned on a seq someone else already moved past changes nothing and
    // says who set what when.
    let err = run_err(&["policy", "set", "--min-records", "5", "--expect-seq", "1"]);
    assert!(err.contains("changed concurrently"), "{err}");
    assert!(err.contains("seq 2"), "{err}");
    assert!(err.contains("min-records 100"), "{err}");
    assert_eq!(
        json(&run_ok(&["policy", "show", "--json"]))["policy"]["min_records"],
        100
    );

    // Bad input names the place.
    std::fs::write(&golden, "home\n\tno key\n").unwrap();
    let err = run_err(&["policy", "set", "--golden", golden.to_str().unwrap()]);
    assert!(err.contains("golden.tsv:2"), "{err}");
    assert!(err.contains("empty key"), "{err}");
    let err = run_err(&["policy", "set", "--max-growth", "lots"]);
    assert!(err.contains("not a percentage"), "{err}");
    let err = run_err(&["policy", "set", "--max-shrink", "150%"]);
    assert!(err.contains("more than 100%"), "{err}");

    let history = json(&run_ok(&["policy", "history", "--json"]));
    let seqs: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2], "failed sets leave no record");

    let reset = json(&run_ok(&["policy", "set", "--reset", "--json"]));
    assert_eq!(reset["policy"]["min_records"], 1);
    assert_eq!(reset["policy"]["golden"].as_array().unwrap().len(), 0);
}

#[test]
fn policy_check_lists_broken_rules_and_diff_json_counts_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let s = store.to_str().unwrap();

    let old = records(0..100, "a");
    let mut new: Vec<(String, String)> = records(30..100, "a");
    for r in new.iter_mut().filter(|(k, _)| k.ends_with('5')) {
        r.1 = "changed".to_string();
    }
    new.extend(records(100..110, "a"));
    new.sort();
    let v1 = write(s, tmp.path(), "old", &old, 3);
    let v2 = write(s, tmp.path(), "new", &new, 5);

    let out = tusk_ok(&[
        "diff", "--store", s, "--domain", "pages", &v1, &v2, "--sample", "2", "--json",
    ]);
    let d = json(&out);
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some(&*v1), Some(&*v2))
    );
    assert_eq!(d["added"], 10);
    assert_eq!(d["removed"], 30);
    assert_eq!(d["changed"], 7, "key-0035 .. key-0095");
    assert_eq!(d["unchanged"], 63);
    let keys = |kind: &str| -> Vec<String> {
        d["samples"][kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys("added"), ["key-0100", "key-0101"]);
    assert_eq!(keys("removed"), ["key-0000", "key-0001"]);
    assert_eq!(keys("changed"), ["key-0035", "key-0045"]);

    let err = tusk_err(&["diff", "--store", s, "--domain", "pages", &v1, "nope"]);
    assert!(err.contains("nope"), "{err}");

    // Gate: at most 20% shrink; v2 has 80 records against v1's 100, exactly at it.
    tusk_ok(&[
        "policy",
        "set",
        "--store",
        s,
        "--domain",
        "pages",
        "--max-shrink",
        "records:20%",
        "--min-records",
        "90",
    ]);
    let out = tusk_tests::tusk(&[
        "policy",
        "check",
        "--store",
        s,
        "--domain",
        "pages",
        &v2,
        "--current",
        &v1,
        "--json",
    ]);
    assert!(!out.status.success(), "80 records < min-records 90");
    let c = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(c["ok"], false);
    let rules: Vec<&str> = c["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["min-records"], "20% shrink is allowed: {c}");
    assert_eq!(
        c["violations"][0]["message"],
        "has 80 records, policy min-records 90"
    );

    tusk_ok(&[
        "policy",
        "set",
        "--store",
        s,
        "--domain",
        "pages",
        "--min-records",
        "0",
        "--max-shrink",
        "records:19.9%",
    ]);
    let err = tusk_err(&[
        "policy",
        "check",
        "--store",
        s,
        "--domain",
        "pages",
        &v2,
        "--current",
        &v1,
    ]);
    assert!(err.contains("breaks 1 rule(s) of policy seq 2"), "{err}");
    let out = tusk_tests::tusk(&[
        "policy",
        "check",
        "--store",
        s,
        "--domain",
        "pages",
        &v2,
        "--current",
        &v1,
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("shrinks records by 20.0% (100 -> 80), policy max-shrink 19.9%"),
        "{text}"
    );
    let ok = tusk_ok(&[
        "policy",
        "check",
        "--store",
        s,
        "--domain",
        "pages",
        &v2,
        "--current",
        "none",
    ]);
    assert!(ok.contains("passes policy seq 2"), "{ok}");
}

/// `tusk write` of `input` (activating); returns the finished process.
fn write_activating(store: &str, input: &Path, extra: &[&str]) -> std::process::Output {
    tusk_write(store, input, 2, extra)
}

fn current_version(store: &str) -> Option<String> {
    let versions = json(&tusk_ok(&[
        "versions", "--store", store, "--domain", "pages", "--json",
    ]));
    versions
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["current"] == true)
        .map(|v| v["version"].as_str().unwrap().to_string())
}

/// The gates block activation through the real commands: an empty input publishes but
/// is never activated (unless --allow-empty), a shrink past the policy is refused by
/// `tusk write` and `tusk activate` naming the rule, and `--force --reason` passes it
/// with the override recorded in the history.
#[test]
fn write_and_activate_are_gated_by_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let s = store.to_str().unwrap();

    let empty = tmp.path().join("empty.tsv");
    std::fs::write(&empty, "").unwrap();
    let out = write_activating(s, &empty, &[]);
    assert!(!out.status.success(), "an empty version was activated");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("min-records") && err.contains("published but not current"),
        "{err}"
    );
    assert_eq!(current_version(s), None);

    let full = tmp.path().join("full.tsv");
    write_tsv(&full, &records(0..100, "a"));
    let out = write_activating(s, &full, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = json(&String::from_utf8_lossy(&out.stdout))["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(current_version(s).as_deref(), Some(first.as_str()));

    tusk_ok(&[
        "policy",
        "set",
        "--store",
        s,
        "--domain",
        "pages",
        "--max-shrink",
        "20%",
        "--reason",
        "guard",
    ]);
    let half = tmp.path().join("half.tsv");
    write_tsv(&half, &records(0..50, "b"));
    let out = write_activating(s, &half, &[]);
    assert!(!out.status.success(), "a 50% shrink was activated");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max-shrink 20%"), "{err}");
    assert_eq!(current_version(s).as_deref(), Some(first.as_str()));
    let versions = json(&tusk_ok(&[
        "versions", "--store", s, "--domain", "pages", "--json",
    ]));
    let shrunk = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_string())
        .find(|v| *v > first)
        .expect("the refused version is published");

    let err = tusk_err(&["activate", "--store", s, "--domain", "pages", &shrunk]);
    assert!(
        err.contains("max-shrink 20%") && err.contains("--force"),
        "{err}"
    );
    let err = tusk_err(&[
        "activate", "--store", s, "--domain", "pages", &shrunk, "--force",
    ]);
    assert!(err.contains("--force needs --reason"), "{err}");
    tusk_ok(&[
        "activate",
        "--store",
        s,
        "--domain",
        "pages",
        &shrunk,
        "--force",
        "--reason",
        "half the catalogue was retired",
    ]);
    assert_eq!(current_version(s).as_deref(), Some(shrunk.as_str()));
    let history = json(&tusk_ok(&[
        "history", "--store", s, "--domain", "pages", "--json",
    ]));
    let last = history.as_array().unwrap().last().unwrap().clone();
    let recorded = last["policy_override"].as_str().unwrap_or_default();
    assert!(
        recorded.contains("half the catalogue was retired") && recorded.contains("max-shrink"),
        "{last}"
    );

    // --allow-empty waives the empty version's min-records rule, and says so.
    let out = write_activating(s, &empty, &["--allow-empty"]);
    assert!(
        !out.status.success(),
        "an empty version also shrinks by 100%"
    );
    let out = write_activating(
        s,
        &empty,
        &["--allow-empty", "--force", "--reason", "wipe the domain"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
