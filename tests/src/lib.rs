//! Harness for tusk's end-to-end tests: run the real `tusk` binary, start real server
//! processes on 127.0.0.1, and clean them up.
//!
//! The binary is found next to the test executable (`target/<profile>/tusk`), or at
//! `$TUSK_BIN`. `scripts/test` builds it before running the suite.
#![deny(missing_docs)]

pub mod browser;
pub mod certs;
pub mod fleet;
pub mod s3;
pub mod spark;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of the `tusk` binary under test.
pub fn tusk_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TUSK_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test-exe> -> target/<profile>/tusk
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps");
    let bin = profile_dir.join("tusk");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p tusk-cli` (scripts/test does), or set TUSK_BIN",
        bin.display()
    );
    bin
}

/// Variables of the developer's environment that would change what a `tusk` process
/// under test does (which store, which server, which AWS profile, endpoint, region or
/// credentials); every process the harness starts runs without them, plus whatever
/// the test sets.
pub const SCRUBBED_ENV: &[&str] = &[
    "TUSK_STORE",
    "TUSK_DOMAIN",
    "TUSK_SERVER",
    "TUSK_CONFIG",
    "TUSK_LISTEN",
    "TUSK_DATA_DIR",
    "TUSK_POLL_INTERVAL",
    "TUSK_METRICS_LISTEN",
    "TUSK_KEEP_VERSIONS",
    "TUSK_MAX_BATCH",
    "TUSK_DOWNLOAD_CONCURRENCY",
    "TUSK_DOWNLOAD_RATE_LIMIT",
    "TUSK_SCRUB_INTERVAL",
    "TUSK_SCRUB_RATE",
    "TUSK_TLS_CA",
    "TUSK_TLS_CERT",
    "TUSK_TLS_KEY",
    "TUSK_TLS_CLIENT_CA",
    "TUSK_LOG_FORMAT",
    "TUSK_S3_PATH_STYLE",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
];

/// A `tusk` command with [`SCRUBBED_ENV`] removed and `env` added.
fn tusk_command(env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(tusk_bin());
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// A directory of Python packages that `script` installs: `$env_var` when set, else
/// `.cache/<name>` in the workspace; it must hold the script's stamp file (a name
/// starting with `stamp`). Panics saying which script to run when it does not.
pub fn installed_python_dir(env_var: &str, name: &str, stamp: &str, script: &str) -> PathBuf {
    let dir = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache").join(name));
    let installed = std::fs::read_dir(&dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(stamp))
    });
    assert!(
        installed,
        "{name} is not installed in {}: run ./scripts/{script} (scripts/test does)",
        dir.display()
    );
    dir
}

/// Runs `tusk` with extra environment variables (e.g. the AWS settings of a test S3
/// server); `Tusk::default()` runs it with the test's own environment.
#[derive(Debug, Clone, Default)]
pub struct Tusk {
    env: Vec<(String, String)>,
}

impl Tusk {
    /// A runner that adds `env` to every `tusk` process it starts.
    pub fn with_env(env: &[(String, String)]) -> Tusk {
        Tusk { env: env.to_vec() }
    }

    /// The extra environment variables.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// `tusk ARGS` as a command to spawn (environment scrubbed, no stdin), for tests
    /// that run several processes at once.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = tusk_command(&self.env);
        cmd.args(args).stdin(Stdio::null());
        cmd
    }

    /// Runs `tusk ARGS` to completion with no stdin.
    pub fn run(&self, args: &[&str]) -> Output {
        tusk_command(&self.env)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tusk runs")
    }

    /// Runs `tusk ARGS`, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tusk {} failed ({}):\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("tusk prints UTF-8")
    }

    /// Runs `tusk ARGS`, asserting failure; returns stderr.
    pub fn err(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "tusk {} unexpectedly succeeded:\nstdout: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).expect("tusk prints UTF-8")
    }

    /// Publishes `records` as a version of `domain` at `store` with `tusk write
    /// --format tsv --shards SHARDS --json` plus `extra` flags (the TSV goes to
    /// `input`); returns the JSON summary.
    pub fn write_version(
        &self,
        store: &str,
        domain: &str,
        input: &Path,
        records: &[(String, String)],
        shards: u32,
        extra: &[&str],
    ) -> serde_json::Value {
        write_tsv(input, records);
        let shards = shards.to_string();
        let mut args = vec![
            "write",
            "--store",
            store,
            "--domain",
            domain,
            "--format",
            "tsv",
            "--input",
            input.to_str().expect("utf-8 path"),
            "--shards",
            &shards,
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = self.ok(&args);
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }
}

/// Runs `tusk ARGS` to completion with no stdin.
pub fn tusk(args: &[&str]) -> Output {
    Tusk::default().run(args)
}

/// Runs `tusk ARGS` with extra environment variables.
pub fn tusk_env(args: &[&str], env: &[(String, String)]) -> Output {
    Tusk::with_env(env).run(args)
}

/// Runs `tusk ARGS`, asserting success; returns stdout.
pub fn tusk_ok(args: &[&str]) -> String {
    Tusk::default().ok(args)
}

/// Runs `tusk ARGS`, asserting failure; returns stderr.
pub fn tusk_err(args: &[&str]) -> String {
    Tusk::default().err(args)
}

/// The versions `tusk versions --json` lists for `domain` in `store`; none when the
/// store or the domain does not exist yet (a write that never got far enough to
/// create either), which `tusk versions` reports as an error.
pub fn listed_versions(store: &str, domain: &str) -> Vec<serde_json::Value> {
    let out = tusk(&["versions", "--store", store, "--domain", domain, "--json"]);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no store at") || err.contains(&format!("unknown domain '{domain}'")),
            "tusk versions failed: {err}"
        );
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str(text.trim()) {
        Ok(serde_json::Value::Array(versions)) => versions,
        other => panic!("tusk versions --json printed {text:?}: {other:?}"),
    }
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout` naming
/// `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_for`] for async probes: polls `probe` every 20 ms until `done(&value)`, for
/// at most `secs` seconds, and panics naming `what` and the last value.
pub async fn wait_for_async<T, F, Fut>(
    what: &str,
    secs: u64,
    mut probe: F,
    done: impl Fn(&T) -> bool,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
    T: std::fmt::Debug,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let value = probe().await;
        if done(&value) {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}; last: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `tusk serve` process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// The gRPC address it printed (`serving on ADDR`).
    pub addr: SocketAddr,
    /// The metrics address it printed, if any.
    pub metrics_addr: Option<SocketAddr>,
    stderr_log: PathBuf,
}

impl ServerProcess {
    /// Starts `tusk serve ARGS` (which should include `--listen 127.0.0.1:0`) and waits
    /// (at most 60 s) for it to print its address. Stderr goes to `stderr_log`.
    pub fn start(args: &[&str], stderr_log: &Path) -> ServerProcess {
        ServerProcess::start_with_env(args, stderr_log, &[])
    }

    /// Like [`ServerProcess::start`], with extra environment variables.
    pub fn start_with_env(
        args: &[&str],
        stderr_log: &Path,
        env: &[(String, String)],
    ) -> ServerProcess {
        let log = std::fs::File::create(stderr_log).expect("create the server log");
        let mut child = tusk_command(env)
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn tusk serve");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addr = None;
        let mut metrics_addr = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while addr.is_none() || (args.contains(&"--metrics-listen") && metrics_addr.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(a) = line.strip_prefix("serving on ") {
                        addr = Some(a.trim().parse().expect("a socket address"));
                    } else if let Some(a) = line.strip_prefix("metrics on ") {
                        metrics_addr = Some(a.trim().parse().expect("a socket address"));
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "tusk serve {} did not report its address; log:\n{}",
                        args.join(" "),
                        std::fs::read_to_string(stderr_log).unwrap_or_default()
                    );
                }
            }
        }
        ServerProcess {
            child,
            addr: addr.expect("loop exits with an address"),
            metrics_addr,
            stderr_log: stderr_log.to_path_buf(),
        }
    }

    /// The address as a `host:port` string for `--server`.
    pub fn server_arg(&self) -> String {
        self.addr.to_string()
    }

    /// The process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (at most 20 s) for a clean exit; returns whether it
    /// exited successfully.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, read,
/// released): for a server the test starts soon after, or an address nothing
/// listens on.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A two-worker tokio runtime for a test's own async calls (clients, readers).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Writes `records` as a TSV file (one `key<TAB>value` line each).
pub fn write_tsv(path: &Path, records: &[(String, String)]) {
    let mut text = String::new();
    for (k, v) in records {
        text.push_str(k);
        text.push('\t');
        text.push_str(v);
        text.push('\n');
    }
    std::fs::write(path, text).expect("write the TSV input");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way the harness starts `tusk` removes the developer's variables.
    #[test]
    fn spawned_commands_scrub_the_environment() {
        let tusk = Tusk::with_env(&[("AWS_REGION".to_string(), "test-1".to_string())]);
        let cmd = tusk.command(&["versions"]);
        let envs: Vec<(String, Option<String>)> = cmd
            .get_envs()
            .map(|(k, v)| {
                let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
                (text(k), v.map(text))
            })
            .collect();
        for var in SCRUBBED_ENV.iter().filter(|v| **v != "AWS_REGION") {
            assert!(
                envs.contains(&(var.to_string(), None)),
                "{var} is not removed: {envs:?}"
            );
        }
        assert!(envs.contains(&("AWS_REGION".to_string(), Some("test-1".to_string()))));
    }
}
