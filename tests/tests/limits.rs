//! Limits and clean stops of the `tusk` binary: shard counts and memory budgets out of
//! range are refused naming the flag, a writer stopped by SIGTERM or SIGINT removes its
//! temporary files, and `serve --config` refuses the flags it would ignore.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tusk_tests::{SCRUBBED_ENV, tusk_bin, tusk_err, tusk_ok, wait_for};

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn versions(store: &str) -> usize {
    tusk_tests::listed_versions(store, "d").len()
}

#[test]
fn write_refuses_shard_counts_and_memory_budgets_out_of_range() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();
    let input = tmp.path().join("in.tsv");
    std::fs::write(&input, "k\tv\n").unwrap();
    let write = |extra: &[&str]| {
        let args = [
            &[
                "write", "--store", store_arg, "--domain", "d", "--format", "tsv",
            ][..],
            &["--input", input.to_str().unwrap()],
            extra,
        ]
        .concat();
        tusk_err(&args)
    };
    for shards in ["0", "65537", "100000", "4294967295"] {
        let err = write(&["--shards", shards]);
        assert!(
            err.contains("--shards")
                && err.contains(&format!("shards = {shards}"))
                && err.contains("1..=65536")
                && err.contains("memory-mapped file on every server"),
            "{err}"
        );
    }
    let err = write(&["--shards", "many"]);
    assert!(
        err.contains("--shards") && err.contains("not a shard count"),
        "{err}"
    );
    for memory in ["1", "4095KiB"] {
        let err = write(&["--memory", memory]);
        assert!(
            err.contains("--memory") && err.contains("at least 4 MiB"),
            "{err}"
        );
    }
    assert!(!store.exists(), "a refused write touched the store");

    // The limits themselves are accepted, and a finished write leaves no temp files.
    let temp_dir = tmp.path().join("writer-tmp");
    std::fs::create_dir(&temp_dir).unwrap();
    tusk_ok(&[
        "write",
        "--store",
        store_arg,
        "--domain",
        "d",
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--memory",
        "4MiB",
        "--shards",
        "3",
        "--temp-dir",
        temp_dir.to_str().unwrap(),
    ]);
    assert_eq!(versions(store_arg), 1);
    let left: Vec<_> = std::fs::read_dir(&temp_dir).unwrap().flatten().collect();
    assert!(left.is_empty(), "a finished write left {left:?}");
}

#[test]
fn versions_written_back_to_back_list_in_creation_order() {
    // Writes a second apart would sort right with any id; these land within one
    // second, where ids used to be ordered by their random suffix.
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();
    let input = tmp.path().join("in.tsv");
    std::fs::write(&input, "k\tv\n").unwrap();
    let mut written = Vec::new();
    for _ in 0..4 {
        let out = tusk_ok(&[
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
            "1",
            "--json",
        ]);
        let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        written.push(summary["version"].as_str().unwrap().to_string());
    }
    let listed: serde_json::Value = serde_json::from_str(
        tusk_ok(&["versions", "--store", store_arg, "--domain", "d", "--json"]).trim(),
    )
    .unwrap();
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(listed, written, "versions listed out of creation order");
}

/// Starts `tusk write` reading stdin into `temp_dir`, feeds it enough records to
/// spill runs, waits for a run file, sends `signal` and checks the stop.
fn stop_a_writer_mid_run(signal: &str, code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();
    let temp_dir = tmp.path().join("writer-tmp");
    std::fs::create_dir(&temp_dir).unwrap();
    let mut cmd = Command::new(tusk_bin());
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args([
            "write", "--store", store_arg, "--domain", "d", "--format", "tsv",
        ])
        .args(["--input", "-", "--memory", "4MiB", "--shards", "4"])
        .arg("--temp-dir")
        .arg(&temp_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // ~100 bytes charged per record: 100,000 records spill at least twice. Stdin stays
    // open, so the writer is mid-run (waiting for more input) when the signal comes.
    let mut stdin = child.stdin.take().unwrap();
    let mut body = String::new();
    for i in 0..100_000u32 {
        body.push_str(&format!("key-{i:08}\tvalue-{i}-{}\n", "x".repeat(20)));
    }
    stdin.write_all(body.as_bytes()).unwrap();
    stdin.flush().unwrap();
    wait_for("a spilled run file", Duration::from_secs(60), || {
        files_under(&temp_dir)
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "run"))
            .then_some(())
    });

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tusk write did not exit within 30 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();

    assert_eq!(status.code(), Some(code), "stderr: {stderr}");
    // Progress lines (`tusk write: ...`) may precede the reason.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("tusk write: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "tusk: error: stopped by SIG{signal}; removed temporary files"
        )),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&temp_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
    if store.exists() {
        assert_eq!(versions(store_arg), 0);
    }
}

#[test]
fn a_writer_stopped_by_sigterm_removes_its_temporary_files() {
    stop_a_writer_mid_run("TERM", 143);
}

#[test]
fn a_writer_stopped_by_sigint_removes_its_temporary_files() {
    stop_a_writer_mid_run("INT", 130);
}

/// Runs `tusk ARGS`, which must fail within 30 s (a `serve` that starts instead of
/// refusing is killed and fails the test); returns stderr.
fn refused(args: &[&str]) -> String {
    let mut cmd = Command::new(tusk_bin());
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tusk {} ran instead of refusing its flags", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "tusk {} succeeded", args.join(" "));
    stderr
}

#[test]
fn serve_with_config_refuses_the_flags_it_would_ignore() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[[domains]]\nname = \"d\"\nstore = \"{}\"\n",
            tmp.path().join("data").display(),
            tmp.path().join("store").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let err = refused(&["serve", "--config", config, "--listen", "127.0.0.1:0"]);
    assert!(
        err.contains("--config") && err.contains("--listen"),
        "{err}"
    );
    let err = refused(&[
        "serve",
        "--config",
        config,
        "--data-dir",
        "/elsewhere",
        "--keep-versions",
        "5",
        "--poll-interval",
        "1s",
    ]);
    for flag in ["--data-dir", "--keep-versions", "--poll-interval"] {
        assert!(err.contains(flag), "{flag} not named: {err}");
    }
    let err = refused(&["serve", "--config", config, "--domain", "other"]);
    assert!(err.contains("--domain"), "{err}");
    assert!(!tmp.path().join("data").exists(), "a refused serve started");
}
