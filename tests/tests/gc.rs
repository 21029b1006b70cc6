//! `tusk gc` with the real binary: a dry run lists and deletes nothing, the real run
//! deletes old versions and debris, and the current version and the rollback target
//! survive intact; a gc looping while `tusk write` publishes (on the local store and
//! on S3) never leaves a broken version behind.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tusk_tests::s3::MotoServer;
use tusk_tests::{Tusk, tusk_err, tusk_ok, write_tsv};

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
    let ids = version_ids(&store);
    assert_eq!(ids.len(), 4, "{ids:?}");
    for id in &ids {
        run("activate", &store, &[id]);
    }
    // Leaves ids[3] (marked rolled back) for ids[2]; the next rollback would go to
    // ids[1], so gc keeps that one, and ids[3] only as the newest.
    run("rollback", &store, &[]);
    let (current, rollback_target) = (&ids[2], &ids[1]);
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
        (
            rollback_target.clone(),
            "rollback-target".to_string(),
            false,
        ),
        (current.clone(), "current".to_string(), false),
        (ids[3].clone(), "within-keep".to_string(), false),
        ("zz-dead-publish".to_string(), "debris".to_string(), true),
    ];
    assert_eq!(decisions(&dry), expected, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["current"], current.as_str());
    assert_eq!(dry["rollback_target"], rollback_target.as_str());
    // One version of manifest + 2 shards, and the debris shard.
    assert_eq!(dry["objects_freed"], 4, "{dry}");
    assert_eq!(version_ids(&store), ids, "a dry run deleted something");
    assert!(debris.join("shard-00000.tsk").exists());

    let table = run("gc", &store, &["--keep", "1", "--grace", "0s"]);
    assert!(
        table.contains("deleted 2 version(s), 4 object(s)"),
        "summary line: {table}"
    );
    assert!(table.contains("rollback target"), "reasons shown: {table}");
    assert_eq!(
        version_ids(&store),
        [rollback_target.clone(), current.clone(), ids[3].clone()]
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

    // Back on ids[1], with ids[2] and ids[3] rolled back: nothing older is left to
    // roll back to, so ids[2] is no longer protected; ids[3] stays as the newest.
    let again = json(&run(
        "gc",
        &store,
        &["--keep", "1", "--grace", "0s", "--json"],
    ));
    assert_eq!(again["rollback_target"], serde_json::Value::Null, "{again}");
    let deleted: Vec<String> = decisions(&again)
        .into_iter()
        .filter(|(_, _, delete)| *delete)
        .map(|(v, _, _)| v)
        .collect();
    assert_eq!(deleted, std::slice::from_ref(current), "{again}");
    let again = json(&run(
        "gc",
        &store,
        &["--keep", "1", "--grace", "0s", "--json"],
    ));
    assert_eq!(again["objects_freed"], 0, "{again}");
}

/// What a loop of `tusk gc --keep 1 --grace 0s --json` saw while a publish ran.
#[derive(Debug, Default)]
struct GcLoop {
    /// gc runs that finished.
    runs: usize,
    /// Runs that kept a directory because a publish announced itself there.
    saw_publishing: usize,
    /// stderr of every failed run.
    failures: Vec<String>,
}

/// Runs gc back to back until `stop` is set, at most 5,000 times or 5 minutes.
fn gc_loop(tusk: &Tusk, store: &str, stop: &AtomicBool) -> GcLoop {
    let args = [
        "gc", "--store", store, "--domain", DOMAIN, "--keep", "1", "--grace", "0s", "--json",
    ];
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = GcLoop::default();
    for _ in 0..5_000 {
        if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
            break;
        }
        let out = tusk.run(&args);
        if !out.status.success() {
            seen.failures
                .push(String::from_utf8_lossy(&out.stderr).into_owned());
            continue;
        }
        seen.runs += 1;
        let report = json(&String::from_utf8_lossy(&out.stdout));
        if decisions(&report)
            .iter()
            .any(|(_, reason, delete)| reason == "publishing" && !delete)
        {
            seen.saw_publishing += 1;
        }
    }
    seen
}

/// `rounds` times: `tusk write` (8 shards) while gc loops with `--keep 1 --grace 0s`.
/// The writer either publishes a complete version or fails saying what gc took;
/// afterwards every visible version verifies. Returns how many rounds saw gc keep
/// the publish in progress (so the race was really run).
fn write_while_gc_loops(
    tusk: &Tusk,
    store: &str,
    work: &Path,
    records: usize,
    rounds: usize,
) -> usize {
    let input = work.join("race.tsv");
    let data: Vec<(String, String)> = (0..records)
        .map(|i| {
            (
                format!("key-{i:07}"),
                format!("value-{i}-abcdefghijklmnopqrstuvwxyz"),
            )
        })
        .collect();
    write_tsv(&input, &data);
    // Shards are built next to the store, so the local store hard-links them (their
    // file times are the build's, not the upload's).
    let temp = work.join("build");
    std::fs::create_dir_all(&temp).expect("build dir");
    let (input, temp) = (
        input.to_str().expect("UTF-8 temp path"),
        temp.to_str().expect("UTF-8 temp path"),
    );
    let mut observed = 0;
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let gc = {
            let (tusk, store, stop) = (tusk.clone(), store.to_string(), Arc::clone(&stop));
            std::thread::spawn(move || gc_loop(&tusk, &store, &stop))
        };
        let write = tusk.run(&[
            "write",
            "--store",
            store,
            "--domain",
            DOMAIN,
            "--format",
            "tsv",
            "--input",
            input,
            "--shards",
            "8",
            "--temp-dir",
            temp,
        ]);
        stop.store(true, Ordering::SeqCst);
        let seen = gc.join().expect("gc loop thread");
        let stdout = String::from_utf8_lossy(&write.stdout);
        let stderr = String::from_utf8_lossy(&write.stderr);
        assert!(
            seen.runs > 0,
            "round {round}: no gc finished: {:?}",
            seen.failures
        );
        for failure in &seen.failures {
            // Before the first publish has created the store and the domain, gc
            // finds neither and says so.
            let not_yet = failure.contains("no store at")
                || failure.contains(&format!("unknown domain '{DOMAIN}'"));
            assert!(
                failure.contains("CURRENT moved") || (round == 0 && not_yet),
                "round {round}: gc failed for another reason than a concurrent activation: {failure}"
            );
        }
        eprintln!(
            "round {round}: {} gc runs, {} kept the publish in progress, {} failed; writer ok: {}",
            seen.runs,
            seen.saw_publishing,
            seen.failures.len(),
            write.status.success()
        );
        if seen.saw_publishing > 0 {
            observed += 1;
        }
        if write.status.success() {
            // "published pages version <id>: ..."
            let version = stdout
                .split_whitespace()
                .skip_while(|w| *w != "version")
                .nth(1)
                .map(|v| v.trim_end_matches(':').to_string())
                .unwrap_or_else(|| panic!("round {round}: no version in {stdout}"));
            let shown = tusk.ok(&[
                "verify",
                "--store",
                store,
                "--domain",
                DOMAIN,
                "--version",
                &version,
            ]);
            assert!(
                shown.contains("all 8 shards verified"),
                "round {round}: {shown}"
            );
        } else {
            assert!(
                stderr.contains("publish marker") || stderr.contains("missing from the store"),
                "round {round}: the writer failed without saying what gc took: {stderr}"
            );
        }
        let versions =
            json(&tusk.ok(&["versions", "--store", store, "--domain", DOMAIN, "--json"]));
        for v in versions
            .as_array()
            .expect("versions --json prints an array")
        {
            let id = v["version"].as_str().expect("a version id");
            let out = tusk.run(&[
                "verify",
                "--store",
                store,
                "--domain",
                DOMAIN,
                "--version",
                id,
            ]);
            assert!(
                out.status.success(),
                "round {round}: visible version {id} is broken (gc runs {}, writer: {stdout}{stderr}): {}",
                seen.runs,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    observed
}

#[test]
fn gc_looping_during_a_publish_never_breaks_it_local() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    let store = store.to_str().expect("UTF-8 temp path");
    let observed = write_while_gc_loops(&Tusk::default(), store, dir.path(), 300_000, 5);
    assert!(observed > 0, "no gc run overlapped a publish in 5 rounds");
}

#[test]
fn gc_looping_during_a_publish_never_breaks_it_s3() {
    let moto = MotoServer::start();
    moto.create_bucket("tusk-gc-race");
    let dir = tempfile::tempdir().expect("temp dir");
    let tusk = Tusk::with_env(&moto.env());
    let observed = write_while_gc_loops(&tusk, "s3://tusk-gc-race/race", dir.path(), 200_000, 3);
    assert!(observed > 0, "no gc run overlapped a publish in 3 rounds");
}
