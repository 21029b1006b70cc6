//! The store stops in the middle of a `tusk serve` download.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tusk_tests::{ServerProcess, wait_for};

use crate::helpers::{DOMAIN, S3, domain_status, get, records, write_version};

/// Chunks recorded as verified in the resume sidecars (`*.part.progress`, JSON with
/// a `chunks` array) under `dir`. A sidecar is created empty when a download starts,
/// so only its chunks show progress.
fn verified_chunks(dir: &Path) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".part.progress") {
                // Replaced atomically by rename, so never torn; it may vanish.
                let doc: Value = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                count += doc["chunks"].as_array().map_or(0, Vec::len);
            }
        }
    }
    count
}

/// The server config for one domain on `url`: polls every 100 ms, and downloads
/// slowly (one ranged GET of 256 KiB at a time, 1 MiB/s) so a test can stop the
/// store in the middle of a download.
fn server_config(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("server.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\n\
         data_dir = \"{}\"\n\
         poll_interval = \"100ms\"\n\
         download_concurrency = 1\n\
         download_rate_limit = \"1MiB\"\n\
         download_chunk_size = \"256KiB\"\n\
         retry_failed_after = \"2s\"\n\
         [[domains]]\n\
         name = \"{DOMAIN}\"\n\
         store = \"{url}\"\n",
        dir.join("data").display()
    );
    std::fs::write(&path, text).expect("write server config");
    path
}

/// The store stops while a server downloads v2: v1 keeps answering, status reports
/// the interruption, and once the store is back the download resumes from the chunks
/// already on disk (not from zero) and the server swaps to v2.
#[test]
fn s3_stopping_during_a_server_download_resumes_it() {
    let s3 = S3::start("serve");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = s3.url();
    let v1 = write_version(&s3.tusk, &url, tmp.path(), &records("one", 200, 20), 2, &[]);
    let config = server_config(tmp.path(), &url);
    let server = ServerProcess::start_with_env(
        &["--config", config.to_str().expect("utf-8 path")],
        &tmp.path().join("server.log"),
        s3.tusk.env(),
    );
    let addr = server.server_arg();
    let key = "key-000007";
    wait_for("v1 served", Duration::from_secs(30), || {
        get(&addr, key).filter(|(_, version)| version == &v1)
    });

    // v2: two shards of about 2 MiB, two seconds each at 1 MiB/s.
    let v2 = write_version(
        &s3.tusk,
        &url,
        tmp.path(),
        &records("two", 4096, 1000),
        2,
        &[],
    );
    let data = tmp.path().join("data");
    wait_for(
        "a chunk of v2 verified on disk",
        Duration::from_secs(30),
        || (verified_chunks(&data) > 0).then_some(()),
    );
    s3.moto.pause();
    // The server keeps polling CURRENT meanwhile: those polls fail too (reported as
    // the store's error until the download itself gives up and reports this).
    // The report waits for the S3 client's own timeouts and retries to give up on
    // the stopped store: 13-34 s alone, near a minute on a loaded 2-core CI
    // machine (one CI run timed out at 60 s), hence the wide bound.
    let interrupted = wait_for(
        "status to report the interruption",
        Duration::from_secs(120),
        || {
            let error = domain_status(&addr)["last_error"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (error.contains("interrupted") && error.contains("will resume")).then_some(error)
        },
    );
    let answer = get(&addr, key);
    s3.moto.resume();
    assert!(interrupted.contains(&v2), "{interrupted}");
    let (value, version) = answer.expect("v1 answers while the store is stopped");
    assert_eq!(version, v1);
    assert!(value.starts_with("one-000007-"), "{value}");

    let (value, _) = wait_for("v2 served", Duration::from_secs(60), || {
        get(&addr, key).filter(|(_, version)| version == &v2)
    });
    assert!(value.starts_with("two-000007-"), "{value}");
    let log = strip_ansi(&server.log());
    let resumed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("shard downloaded") && l.contains(v2.as_str()))
        .filter(|l| field(l, "reused") > 0 && field(l, "fetched") > 0)
        .collect();
    assert!(
        !resumed.is_empty(),
        "a shard download resumed part-way (reused and fetched bytes):\n{log}"
    );
    assert!(server.terminate(), "clean exit");
}

/// `text` without ANSI escape sequences (the log may be coloured).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The number after ` NAME=` in a log line (0 when absent).
fn field(line: &str, name: &str) -> u64 {
    let marker = format!(" {name}=");
    line.split_once(&marker)
        .and_then(|(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
