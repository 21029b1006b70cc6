//! `tusk write`'s progress when stderr is not a terminal (a log file, a scheduler):
//! a line at each phase change and periodic lines with phase, percent and ETA, all on
//! stderr, while stdout carries only the summary.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tusk_tests::{Tusk, write_tsv};

fn records(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("key-{i:07}"),
                format!("value-{i}-{}", "x".repeat(24)),
            )
        })
        .collect()
}

/// Runs with the progress interval short enough to print lines in a run of a second.
fn tusk() -> Tusk {
    Tusk::with_env(&[("TUSK_PROGRESS_INTERVAL".into(), "10ms".into())])
}

fn summary(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8(stdout.to_vec()).expect("UTF-8 stdout");
    assert_eq!(
        text.lines().count(),
        1,
        "stdout is the summary alone: {text}"
    );
    serde_json::from_str(text.trim()).expect("write --json prints JSON")
}

#[test]
fn a_write_from_files_logs_its_phases_and_percentages_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.tsv");
    let data = records(80_000);
    write_tsv(&input, &data);
    let size = std::fs::metadata(&input).unwrap().len();
    assert!(size > 3 << 20, "a few MB of input ({size} bytes)");
    let store = tmp.path().join("store");

    let out = tusk().run(&[
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        "pages",
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--shards",
        "4",
        "--memory",
        "4MiB",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "tusk write failed: {stderr}");
    let json = summary(&out.stdout);
    assert_eq!(json["records"], 80_000);
    assert_eq!(json["shards"], 4);

    let lines: Vec<&str> = stderr.lines().collect();
    let position = |wanted: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(&format!("tusk write: {wanted}")))
            .unwrap_or_else(|| panic!("no line {wanted:?} in stderr:\n{stderr}"))
    };
    // The phase lines, in order, with the input size and shards counted to the total.
    let mib = size as f64 / f64::from(1 << 20);
    let order = [
        position(&format!("reading {mib:.1} MiB of input")),
        position("building 4 shards"),
        position("building finished: 4/4 shards"),
        position("activating the new version"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{stderr}");
    let read_done = lines
        .iter()
        .position(|l| {
            l.starts_with("tusk write: reading finished: ") && l.contains("80000 records")
        })
        .unwrap_or_else(|| panic!("no end of reading in:\n{stderr}"));
    let upload_start = lines
        .iter()
        .position(|l| l.starts_with("tusk write: uploading 4 shards, "))
        .unwrap_or_else(|| panic!("no upload phase in:\n{stderr}"));
    let upload_done = lines
        .iter()
        .position(|l| l.starts_with("tusk write: uploading finished: 4/4 shards, "))
        .unwrap_or_else(|| panic!("no end of upload in:\n{stderr}"));
    assert!(read_done < order[1] && order[2] < upload_start, "{stderr}");
    assert!(
        upload_start < upload_done && upload_done < order[3],
        "{stderr}"
    );

    // Periodic lines name their phase and a percent, with a rate or an ETA.
    let periodic: Vec<&&str> = lines
        .iter()
        .filter(|l| {
            ["reading: ", "building: ", "uploading: "]
                .iter()
                .any(|p| l.starts_with(&format!("tusk write: {p}")))
        })
        .collect();
    assert!(!periodic.is_empty(), "no periodic progress line:\n{stderr}");
    for line in &periodic {
        assert!(line.contains("% ") || line.contains("%,"), "{line}");
        assert!(line.contains(", ETA "), "{line}");
    }
}

#[test]
fn a_write_from_stdin_logs_progress_without_a_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let mut child = tusk()
        .command(&[
            "write",
            "--store",
            store.to_str().unwrap(),
            "--domain",
            "pages",
            "--format",
            "tsv",
            "--input",
            "-",
            "--shards",
            "2",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tusk starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    // The first half, then wait (bounded) until a periodic line counts it: the
    // process is still reading, so the line can only come from the timer.
    let data = records(40_000);
    let text: String = data.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
    let (first, second) = text.split_at(text.len() / 2);
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let counted = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines_rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no progress line counting records ({e}); saw {seen:#?}"));
        seen.push(line.clone());
        let records: Option<u64> = line
            .strip_prefix("tusk write: reading: ")
            .and_then(|rest| rest.split(", ").nth(1))
            .and_then(|r| r.strip_suffix(" records"))
            .and_then(|n| n.parse().ok());
        if records.is_some_and(|n| n > 0) {
            break line;
        }
    };
    assert!(
        seen.contains(&"tusk write: reading input of unknown size (stdin or a pipe)".to_string()),
        "{seen:#?}"
    );
    assert!(
        !counted.contains('%') && counted.ends_with(", ETA unknown"),
        "{counted}"
    );

    stdin.write_all(second.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().expect("tusk ends");
    reader.join().expect("the stderr reader ends");
    let rest: Vec<String> = lines_rx.try_iter().collect();
    assert!(out.status.success(), "tusk write failed: {rest:#?}");
    assert_eq!(summary(&out.stdout)["records"], 40_000);
    assert!(
        rest.iter()
            .any(|l| l.starts_with("tusk write: reading finished: ") && l.contains("40000 records")),
        "{rest:#?}"
    );
    assert!(
        rest.iter()
            .any(|l| l.starts_with("tusk write: building finished: 2/2 shards in ")),
        "{rest:#?}"
    );
}
