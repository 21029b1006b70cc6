//! `tusk.spark.write` on the real engine: local-mode PySpark jobs
//! (`tests/spark/jobs.py`) with the `tusk` Python package built from `python/` by
//! maturin, checked against the store, `tusk serve`, `tusk diff` and `tusk gc`.
//!
//! Needs PySpark, pyarrow and maturin in `.cache/spark` and a Java runtime:
//! `./scripts/install-pyspark` (scripts/test runs it).

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tusk_tests::s3::MotoServer;
use tusk_tests::spark::{python_package, run_job, tail};
use tusk_tests::{ServerProcess, Tusk, listed_versions, runtime, wait_for};

/// Bound on one job's run time, JVM start included.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

fn manifest(store: &Path, domain: &str, version: &str) -> Value {
    read_json(
        &store
            .join(domain)
            .join("versions")
            .join(version)
            .join("MANIFEST.json"),
    )
}

/// The names of the objects in a version directory of a local store.
fn objects(store: &Path, domain: &str, version: &str) -> BTreeSet<String> {
    std::fs::read_dir(store.join(domain).join("versions").join(version))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The shards' `(bytes, crc32, content hash)` of a manifest, in shard order.
fn shard_sums(manifest: &Value) -> Vec<(u64, u64, String)> {
    manifest["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .map(|s| {
            (
                s["bytes"].as_u64().expect("bytes"),
                s["crc32"].as_u64().expect("crc32"),
                s["content_hash"]
                    .as_str()
                    .expect("content_hash")
                    .to_string(),
            )
        })
        .collect()
}

/// `tusk diff` of two versions finds no record added, removed or changed.
fn assert_same_content(tusk: &Tusk, store: &str, domain: &str, a: &str, b: &str, records: u64) {
    let out = tusk.ok(&["diff", "--store", store, "--domain", domain, a, b, "--json"]);
    let diff: Value = serde_json::from_str(out.trim()).expect("diff --json");
    assert_eq!(
        (&diff["added"], &diff["removed"], &diff["changed"]),
        (&Value::from(0), &Value::from(0), &Value::from(0)),
        "{diff}"
    );
    assert_eq!(diff["unchanged"], records, "{diff}");
}

/// Reads `samples` keys spread over `0..rows` (and one absent key) through a
/// `tusk serve` of `store`, waiting (bounded) for it to load `version`.
fn serve_and_sample(store: &str, env: &[(String, String)], version: &str, rows: u64, log: &Path) {
    let data = log.with_extension("data");
    let server = ServerProcess::start_with_env(
        &[
            "--data-dir",
            data.to_str().expect("utf-8 path"),
            "--store",
            store,
            "--domain",
            "pages",
            "--listen",
            "127.0.0.1:0",
            "--poll-interval",
            "200ms",
        ],
        log,
        env,
    );
    let addr = server.server_arg();
    let rt = runtime();
    let client = wait_for("tusk serve connects", Duration::from_secs(30), || {
        rt.block_on(tusk_client::Node::connect(&addr)).ok()
    });
    wait_for(
        &format!("tusk serve loads {version}"),
        Duration::from_secs(120),
        || {
            rt.block_on(client.get("pages", b"key-0", None))
                .ok()
                .filter(|r| r.version == version)
        },
    );
    let samples: Vec<u64> = (0..2000u64).map(|i| (i * 7919 + 13) % rows).collect();
    let mut keys: Vec<Vec<u8>> = samples
        .iter()
        .map(|i| format!("key-{i}").into_bytes())
        .collect();
    keys.push(format!("key-{rows}").into_bytes());
    for (chunk_no, chunk) in keys.chunks(500).enumerate() {
        let reply = rt
            .block_on(client.multi_get("pages", chunk.to_vec(), None))
            .expect("multi_get");
        assert_eq!(reply.version, version);
        for (j, entry) in reply.entries.iter().enumerate() {
            let n = chunk_no * 500 + j;
            match samples.get(n) {
                Some(i) => {
                    assert!(entry.found, "key-{i} not found in {store}");
                    assert_eq!(entry.value, format!("value-{i}").into_bytes(), "key-{i}");
                }
                None => assert!(!entry.found, "key-{rows} was never written"),
            }
        }
    }
    assert!(server.terminate(), "tusk serve exits cleanly");
}

#[test]
fn a_job_of_a_million_rows_publishes_to_a_local_store_and_to_s3_and_tusk_serve_answers_every_sampled_key()
 {
    const ROWS: u64 = 1_000_000;
    let site = python_package();
    let dir = tempfile::tempdir().expect("temp dir");
    let moto = MotoServer::start();
    moto.create_bucket("spark");
    let local = dir.path().join("store");
    let local_url = local.to_str().expect("utf-8 path").to_string();
    let s3_url = "s3://spark/tusk".to_string();
    let data = dir.path().join("data");
    let out = dir.path().join("publish.json");
    let job = run_job(
        &site,
        dir.path(),
        &[
            "publish",
            out.to_str().expect("utf-8 path"),
            &format!("{local_url},{s3_url}"),
            &ROWS.to_string(),
            data.to_str().expect("utf-8 path"),
        ],
        &moto.env(),
        JOB_TIMEOUT,
    );
    assert!(job.status.success(), "the job failed:\n{}", tail(&job.log));
    let result = read_json(&out);

    // One version per store, a million records in 8 shards, each current.
    let versions = result["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2, "{result}");
    for v in versions {
        assert_eq!(
            (v["records"].as_u64(), v["shards"].as_u64()),
            (Some(ROWS), Some(8)),
            "{v}"
        );
        assert_eq!(v["activated"], true, "{v}");
    }
    // The local store's tasks ran on a 4 MiB budget: they spilled sorted runs.
    assert!(
        versions[0]["spilled_runs"].as_u64() > Some(0),
        "{}",
        versions[0]
    );
    let local_version = versions[0]["version"].as_str().expect("version");
    let s3_version = versions[1]["version"].as_str().expect("version");

    // The shards are those `tusk write` builds from the same records, byte for byte.
    let tsv = dir.path().join("numbered.tsv");
    let records: Vec<(String, String)> = (0..ROWS)
        .map(|i| (format!("key-{i}"), format!("value-{i}")))
        .collect();
    let written =
        Tusk::default().write_version(&local_url, "pages", &tsv, &records, 8, &["--no-activate"]);
    let written_version = written["version"].as_str().expect("version");
    assert_eq!(
        shard_sums(&manifest(&local, "pages", local_version)),
        shard_sums(&manifest(&local, "pages", written_version))
    );
    let m = manifest(&local, "pages", local_version);
    assert_eq!(m["writer"]["tool"], "tusk.spark", "{m}");
    // Exactly the named objects are left: no attempt's upload, no marker.
    let named: BTreeSet<String> = m["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .map(|s| s["object"].as_str().expect("object").to_string())
        .chain(["MANIFEST.json".to_string()])
        .collect();
    assert_eq!(objects(&local, "pages", local_version), named);

    // A real server answers every sampled key, from each store.
    serve_and_sample(
        &local_url,
        &[],
        local_version,
        ROWS,
        &dir.path().join("serve-local.log"),
    );
    serve_and_sample(
        &s3_url,
        &moto.env(),
        s3_version,
        ROWS,
        &dir.path().join("serve-s3.log"),
    );

    // Spark's partitioner and tusk's agree on every key.
    assert_eq!(result["parity_keys"], 8600, "{result}");
    assert_eq!(result["parity_mismatches"], 0, "{result}");

    // Parquet and CSV files written by Spark, read by `tusk write`, give the
    // version the Spark path published: the same records, the same shard bytes.
    let tricky = result["tricky"]["version"]
        .as_str()
        .expect("tricky version");
    assert_eq!(result["tricky"]["records"], 5000, "{result}");
    let tusk = Tusk::default();
    for (format, input) in [("parquet", data.join("parquet")), ("csv", data.join("csv"))] {
        let out = tusk.ok(&[
            "write",
            "--store",
            &local_url,
            "--domain",
            "tricky",
            "--format",
            format,
            "--input",
            input.to_str().expect("utf-8 path"),
            "--shards",
            "4",
            "--no-activate",
            "--json",
        ]);
        let summary: Value = serde_json::from_str(out.trim()).expect("write --json");
        let version = summary["version"].as_str().expect("version");
        assert_same_content(&tusk, &local_url, "tricky", tricky, version, 5000);
        assert_eq!(
            shard_sums(&manifest(&local, "tricky", tricky)),
            shard_sums(&manifest(&local, "tricky", version)),
            "{format}"
        );
    }

    // Binary keys and values publish too, here in shard format 1
    // (`shard_format="tusk-native-v1"`); the other domains are in the default.
    assert_eq!(result["binary"]["records"], 3000, "{result}");
    let out = tusk.ok(&[
        "verify", "--store", &local_url, "--domain", "binary", "--json",
    ]);
    assert!(out.contains("\"failed\":0"), "{out}");
    let binary = result["binary"]["version"].as_str().expect("version");
    assert_eq!(
        manifest(&local, "binary", binary)["shard_format"],
        "tusk-native-v1"
    );
    let shard = local.join("binary/versions").join(binary);
    let shard = std::fs::read_dir(&shard)
        .expect("version dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "tsk"))
        .expect("a shard file");
    let inspected: Value = serde_json::from_str(
        tusk.ok(&["inspect", shard.to_str().expect("utf-8"), "--json"])
            .trim(),
    )
    .expect("inspect JSON");
    assert_eq!(inspected["format_version"], 1, "{inspected}");
    assert_eq!(
        manifest(&local, "tricky", tricky)["shard_format"],
        "tusk-native-v2"
    );
    let refused = result["bad_shard_format"].as_str().expect("a ValueError");
    assert!(
        refused.contains("tusk-native-v1, tusk-native-v2") && refused.contains("'v9'"),
        "{refused}"
    );
}

#[test]
fn a_task_that_fails_after_its_upload_and_a_late_upload_leave_a_correct_version_and_bad_input_publishes_nothing()
 {
    const ROWS: u64 = 20_000;
    let site = python_package();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    let store_url = store.to_str().expect("utf-8 path").to_string();
    let attempts = dir.path().join("attempts");
    std::fs::create_dir_all(&attempts).expect("attempts dir");
    // A write policy the job's versions break.
    std::fs::create_dir_all(&store).expect("store dir");
    Tusk::default().ok(&[
        "policy",
        "set",
        "--store",
        &store_url,
        "--domain",
        "gated",
        "--min-records",
        "1000000",
        "--reason",
        "spark test",
    ]);
    let out = dir.path().join("faults.json");
    let job = run_job(
        &site,
        dir.path(),
        &[
            "faults",
            out.to_str().expect("utf-8 path"),
            &store_url,
            &ROWS.to_string(),
            attempts.to_str().expect("utf-8 path"),
        ],
        &[],
        JOB_TIMEOUT,
    );
    assert!(job.status.success(), "the job failed:\n{}", tail(&job.log));
    let result = read_json(&out);
    let version = result["flaky"]["version"].as_str().expect("version");

    // Shard 1 was tried twice; the first attempt uploaded, then failed.
    let tried: BTreeSet<String> = std::fs::read_dir(&attempts)
        .expect("attempts")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let shard1: Vec<&String> = tried.iter().filter(|t| t.starts_with("shard1-")).collect();
    assert_eq!(shard1.len(), 2, "{tried:?}");
    let failed_task = shard1
        .iter()
        .find(|t| t.contains("attempt0"))
        .and_then(|t| t.rsplit("-task").next())
        .expect("shard 1's first attempt");

    // The manifest names one upload per shard, the retry's for shard 1; the failed
    // attempt's upload is gone, the late one is there but not named.
    let m = manifest(&store, "pages", version);
    let named: Vec<&str> = m["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .map(|s| s["object"].as_str().expect("object"))
        .collect();
    assert_eq!(named.len(), 4, "{m}");
    let failed_object = format!("shard-00001-a{failed_task}.tsk");
    assert!(!named.contains(&failed_object.as_str()), "{m}");
    let late = result["late_object"].as_str().expect("late object");
    assert!(!named.contains(&late), "{m}");
    let present = objects(&store, "pages", version);
    assert!(!present.contains(&failed_object), "{present:?}");
    assert!(present.contains(late), "{present:?}");
    // The entry `upload_shard` returns carries the uploaded file's content hash,
    // as `BuiltShard.content_hash` reports it.
    let late_bytes = std::fs::read(store.join("pages/versions").join(version).join(late))
        .expect("the late upload");
    let late_hash = tusk_store::ContentHash::of(&late_bytes).to_string();
    assert_eq!(result["late_content_hash"], late_hash.as_str(), "{result}");
    assert_eq!(result["late_built_hash"], late_hash.as_str(), "{result}");

    // The version holds exactly the job's records, and every shard verifies.
    let tsv = dir.path().join("numbered.tsv");
    let records: Vec<(String, String)> = (0..ROWS)
        .map(|i| (format!("key-{i}"), format!("value-{i}")))
        .collect();
    let tusk = Tusk::default();
    let written = tusk.write_version(&store_url, "pages", &tsv, &records, 4, &["--no-activate"]);
    let written = written["version"].as_str().expect("version");
    assert_same_content(&tusk, &store_url, "pages", version, written, ROWS);
    let out = tusk.ok(&[
        "verify",
        "--store",
        &store_url,
        "--domain",
        "pages",
        "--version",
        version,
        "--json",
    ]);
    assert!(out.contains("\"failed\":0"), "{out}");

    // Versions with empty shards: each has its file, and every shard verifies. In
    // the second, the empty partitions returned nothing and the driver built them.
    for (case, by_driver) in [("sparse", false), ("sparse_skipped", true)] {
        let sparse = result[case]["version"].as_str().expect("sparse version");
        assert_eq!(
            (&result[case]["shards"], &result[case]["records"]),
            (&Value::from(8), &Value::from(3)),
            "{result}"
        );
        let m = manifest(&store, "sparse", sparse);
        let present = objects(&store, "sparse", sparse);
        let empty: Vec<&str> = m["shards"]
            .as_array()
            .expect("shards")
            .iter()
            .inspect(|s| {
                let object = s["object"].as_str().expect("object");
                assert!(present.contains(object), "{object} missing: {present:?}");
            })
            .filter(|s| s["records"] == 0)
            .map(|s| s["object"].as_str().expect("object"))
            .collect();
        assert!(empty.len() >= 5, "{m}");
        assert_eq!(
            empty.iter().all(|o| o.ends_with("-driver.tsk")),
            by_driver,
            "{case}: {empty:?}"
        );
        let out = tusk.ok(&[
            "verify",
            "--store",
            &store_url,
            "--domain",
            "sparse",
            "--version",
            sparse,
            "--json",
        ]);
        assert!(
            out.contains("\"failed\":0") && out.contains("\"shards\":8"),
            "{out}"
        );
    }

    // Bad input fails with the place named, before or during the job.
    let errors = &result["errors"];
    let message = |case: &str| {
        errors[case]["message"]
            .as_str()
            .expect("message")
            .to_string()
    };
    assert!(
        message("duplicate").contains("duplicate key \"key-17\""),
        "{errors}"
    );
    assert_eq!(errors["int_value"]["type"], "TypeError", "{errors}");
    assert!(
        message("int_value").contains("'value'") && message("int_value").contains("bigint"),
        "{errors}"
    );
    assert!(
        message("null_key").contains("null key in column 'key'"),
        "{errors}"
    );
    assert!(message("missing_column").contains("'nope'"), "{errors}");

    // The low-level API records the format the shards were built in, and refuses
    // to record another.
    assert_eq!(
        result["lowlevel_built_format"], "tusk-native-v1",
        "{result}"
    );
    assert_eq!(
        result["lowlevel_entry_format"], "tusk-native-v1",
        "{result}"
    );
    assert_eq!(errors["format_mismatch"]["type"], "ValueError", "{errors}");
    let mismatch = message("format_mismatch");
    assert!(
        mismatch.contains("entries[0]")
            && mismatch.contains("tusk-native-v1")
            && mismatch.contains("tusk-native-v2"),
        "{mismatch}"
    );
    assert_eq!(errors["format_mix"]["type"], "ValueError", "{errors}");
    let mix = message("format_mix");
    assert!(
        mix.contains("entries[0]") && mix.contains("entries[1]") && mix.contains("one format"),
        "{mix}"
    );
    let lowlevel = result["lowlevel"]["version"].as_str().expect("version");
    assert_eq!(
        manifest(&store, "lowlevel", lowlevel)["shard_format"],
        "tusk-native-v1"
    );

    // The write policy applies: the version is published, not made current.
    let policy = message("policy");
    assert!(
        policy.contains("is published but not current") && policy.contains("min"),
        "{errors}"
    );
    assert_eq!(listed_versions(&store_url, "gated").len(), 1);
    assert!(!store.join("gated/CURRENT").exists());

    // Of all the jobs, only the two that succeeded are versions; the flaky one is
    // current (the on_duplicate="last" one was not activated).
    let listed: Vec<String> = listed_versions(&store_url, "pages")
        .iter()
        .map(|v| v["version"].as_str().expect("version").to_string())
        .collect();
    let dedup = result["dedup"]["version"].as_str().expect("dedup version");
    assert_eq!(result["dedup"]["duplicates_dropped"], 1, "{result}");
    let expected: BTreeSet<String> = [version, dedup, written]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let current = std::fs::read_to_string(store.join("pages/CURRENT")).expect("CURRENT");
    assert!(current.contains(version), "{current}");

    // The failed jobs left debris only, which gc deletes.
    let gc = tusk.ok(&[
        "gc", "--store", &store_url, "--domain", "pages", "--keep", "10", "--grace", "0s", "--json",
    ]);
    let gc: Value = serde_json::from_str(gc.trim()).expect("gc --json");
    let debris = gc["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "debris")
        .inspect(|e| assert_eq!(e["delete"], true, "{e}"))
        .count();
    assert!(debris >= 2, "{gc}");
    let left: Vec<String> = std::fs::read_dir(store.join("pages/versions"))
        .expect("versions")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|v| !objects(&store, "pages", v).is_empty())
        .collect();
    assert_eq!(left.len(), 3, "{left:?} after {gc}");
}

#[test]
fn a_driver_killed_before_its_commit_leaves_no_version_and_gc_clears_its_uploads() {
    let site = python_package();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    let store_url = store.to_str().expect("utf-8 path").to_string();
    let out = dir.path().join("killed.json");
    let job = run_job(
        &site,
        dir.path(),
        &[
            "killed",
            out.to_str().expect("utf-8 path"),
            &store_url,
            "20000",
        ],
        &[],
        JOB_TIMEOUT,
    );
    assert_eq!(
        job.status.signal(),
        Some(9),
        "the driver was not killed ({}):\n{}",
        job.status,
        tail(&job.log)
    );
    let version = read_json(&out)["version"]
        .as_str()
        .expect("version")
        .to_string();

    // Every shard was uploaded under the live marker, and no manifest was written.
    let present = objects(&store, "pages", &version);
    assert!(present.contains("PUBLISHING.json"), "{present:?}");
    assert_eq!(
        present.iter().filter(|o| o.ends_with(".tsk")).count(),
        4,
        "{present:?}"
    );
    assert!(!present.contains("MANIFEST.json"), "{present:?}");
    assert!(listed_versions(&store_url, "pages").is_empty());

    // Once the marker's 2 s lease has run out, gc deletes the uploads.
    let tusk = Tusk::default();
    wait_for(
        "gc deletes the dead publish",
        Duration::from_secs(60),
        || {
            tusk.ok(&[
                "gc", "--store", &store_url, "--domain", "pages", "--keep", "1", "--grace", "0s",
                "--json",
            ]);
            objects(&store, "pages", &version).is_empty().then_some(())
        },
    );
}
