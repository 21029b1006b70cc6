//! What the scenarios share: a moto server with its bucket, test records, `tusk`
//! child processes, and reading their answers.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tusk_store::{Catalog, ObjectStore};
use tusk_tests::Tusk;
use tusk_tests::s3::MotoServer;

pub const BUCKET: &str = "tusk-faults";
pub const DOMAIN: &str = "pages";

/// Deterministic pseudo-random lowercase hex of `len` characters, so shards are as
/// large as their input.
fn hex_noise(len: usize, seed: u64) -> String {
    let bytes = tusk_store::conformance::pseudo_random(len.div_ceil(2), seed);
    let mut out: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.truncate(len);
    out
}

/// `count` records `key-NNNNNN` -> `TAG-NNNNNN-<noise>` of about `value_len` bytes.
pub fn records(tag: &str, count: usize, value_len: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let noise = hex_noise(value_len, i as u64 + 1);
            (format!("key-{i:06}"), format!("{tag}-{i:06}-{noise}"))
        })
        .collect()
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The one `tusk: error: ...` line of a failed command's stderr (logs may precede it).
pub fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("tusk: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one error line in:\n{stderr}");
    lines[0].to_string()
}

/// A runtime for the few direct store calls the tests make.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A moto server with [`BUCKET`], the environment `tusk` needs to reach it, and a
/// direct handle on the objects under one prefix.
pub struct S3 {
    pub moto: MotoServer,
    pub tusk: Tusk,
    prefix: String,
}

impl S3 {
    pub fn start(prefix: &str) -> S3 {
        let moto = MotoServer::start();
        moto.create_bucket(BUCKET);
        let tusk = Tusk::with_env(&moto.env());
        S3 {
            moto,
            tusk,
            prefix: prefix.to_string(),
        }
    }

    /// `s3://BUCKET/PREFIX` with short timeouts, so a stopped server fails fast.
    pub fn url(&self) -> String {
        format!(
            "s3://{BUCKET}/{}?attempt_timeout=1s&retry_deadline=3s",
            self.prefix
        )
    }

    /// `s3://BUCKET/PREFIX` with the default (generous) timeouts.
    pub fn plain_url(&self) -> String {
        format!("s3://{BUCKET}/{}", self.prefix)
    }

    pub fn objects(&self) -> Arc<dyn ObjectStore> {
        Arc::new(self.moto.store(BUCKET, &self.prefix))
    }

    pub fn catalog(&self) -> Catalog {
        Catalog::new(self.objects())
    }
}

/// A child process killed when dropped; stdout and stderr go to files.
pub struct Spawned {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Spawned {
    pub fn new(args: &[&str], env: &[(String, String)], dir: &Path, name: &str) -> Spawned {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let child = Tusk::with_env(env)
            .command(args)
            .stdout(File::create(&stdout).expect("stdout file"))
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn tusk");
        Spawned {
            child,
            stdout,
            stderr,
        }
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (at most `timeout`) for the exit; returns status, stdout and stderr.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "tusk did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        (status, read(&self.stdout), read(&self.stderr))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tusk write --json` of `records` as TSV into `url`; returns the version id.
pub fn write_version(
    tusk: &Tusk,
    url: &str,
    dir: &Path,
    records: &[(String, String)],
    shards: u32,
    extra: &[&str],
) -> String {
    let input = dir.join(format!("input-{}.tsv", records.len()));
    let summary = tusk.write_version(url, DOMAIN, &input, records, shards, extra);
    summary["version"]
        .as_str()
        .unwrap_or_else(|| panic!("a version in {summary}"))
        .to_string()
}

/// The value and answering version of `key` on a server, if it answers.
pub fn get(addr: &str, key: &str) -> Option<(String, String)> {
    let out = tusk_tests::tusk(&["get", "--server", addr, "--domain", DOMAIN, key, "--json"]);
    if !out.status.success() {
        return None;
    }
    let answer = json(&String::from_utf8_lossy(&out.stdout));
    Some((
        answer["value"].as_str()?.to_string(),
        answer["version"].as_str()?.to_string(),
    ))
}

/// The server's status entry for [`DOMAIN`].
pub fn domain_status(addr: &str) -> Value {
    let status = json(&tusk_tests::tusk_ok(&[
        "status", "--server", addr, "--json",
    ]));
    status["domains"][0].clone()
}
