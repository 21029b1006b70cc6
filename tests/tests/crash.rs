//! A writer killed at any point leaves no visible partial version: every version that
//! `tusk versions` lists verifies completely, and a re-run succeeds.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use tusk_tests::{Tusk, tusk_ok};

#[test]
fn killed_writers_leave_no_partial_version() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();
    let input = tmp.path().join("big.tsv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for i in 0..300_000u32 {
            writeln!(f, "key-{i:08}\tvalue-{i}-{}", "x".repeat(40)).unwrap();
        }
    }
    // A small memory budget forces spills, so kills also land in the spill and merge
    // phases, not only in parsing.
    let write_args = [
        "write",
        "--store",
        store_arg,
        "--domain",
        "d",
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--shards",
        "8",
        "--memory",
        "4MiB",
    ];
    // `completed`: runs that exited successfully. `attempts`: runs started. A run killed
    // after it created its MANIFEST (but before it activated or exited) leaves a
    // complete, committed version: that is allowed; a partial one is not.
    let (mut completed, mut attempts) = (0, 0);
    for delay_ms in [
        0u64, 5, 20, 50, 100, 200, 350, 500, 600, 650, 700, 750, 800, 900, 1500,
    ] {
        let mut child = Tusk::default()
            .command(&write_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no cleanup code runs
        let status = child.wait().unwrap();
        attempts += 1;
        if status.success() {
            completed += 1;
        }
        // Every visible version is complete and verifies.
        let listed = tusk_tests::listed_versions(store_arg, "d");
        assert!(
            (completed..=attempts).contains(&listed.len()),
            "after a kill at {delay_ms} ms: {} visible, {completed} completed of {attempts}: {listed:?}",
            listed.len()
        );
        for v in listed {
            assert_eq!(v["records"], 300_000);
            tusk_ok(&[
                "verify",
                "--store",
                store_arg,
                "--domain",
                "d",
                "--version",
                v["version"].as_str().unwrap(),
            ]);
        }
    }
    // A re-run after all those kills succeeds and is served as current.
    let out = tusk_ok(&[&write_args[..], &["--json"]].concat());
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["records"], 300_000);
    let listed: serde_json::Value = serde_json::from_str(
        tusk_ok(&["versions", "--store", store_arg, "--domain", "d", "--json"]).trim(),
    )
    .unwrap();
    let current: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["version"], summary["version"]);
}
