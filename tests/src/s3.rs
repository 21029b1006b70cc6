//! A real S3-protocol server for the tests: moto 5.2.5, installed into
//! `<repo>/.cache/moto-5.2.5` by `scripts/install-moto` (which `scripts/test` runs),
//! started on a free 127.0.0.1 port, one per test, killed on drop.
//!
//! ```no_run
//! let moto = tusk_tests::s3::MotoServer::start();
//! moto.create_bucket("tusk");
//! let store = moto.store("tusk", "some/prefix");
//! # drop(store);
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tusk_store::{S3Config, S3Store};

use crate::free_port;

/// The moto version the tests pin (older ones mishandle streamed or multipart uploads).
pub const MOTO_VERSION: &str = "5.2.5";
/// Credentials given to moto (it accepts any).
pub const ACCESS_KEY: &str = "tusk-test-key";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "tusk-test-secret";
/// Region used with moto.
pub const REGION: &str = "us-east-1";

/// Where moto is installed: `$TUSK_MOTO_DIR`, else `<repo>/.cache/moto-5.2.5`.
pub fn moto_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TUSK_MOTO_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".cache")
        .join(format!("moto-{MOTO_VERSION}"))
}

/// How the harness starts moto: its own `moto.server` main, with write requests (PUT,
/// POST, DELETE) run one at a time. moto handles a conditional write (`If-None-Match:
/// *`, `If-Match`) as a check and then a separate store on a threaded server (its
/// dispatcher lock covers routing only), so two concurrent creates of one key can both
/// succeed there, where real S3 lets exactly one win. The full suite saw the
/// concurrent-create conformance check get two winners twice; it did not reproduce in
/// isolation. Serializing writes gives moto S3's atomicity; reads stay concurrent.
const MOTO_LAUNCHER: &str = r#"
import sys, threading
from moto.moto_server import werkzeug_app
from moto.server import main

write_lock = threading.Lock()
dispatch = werkzeug_app.DomainDispatcherApplication.__call__

def serialized_writes(self, environ, start_response):
    if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
        with write_lock:
            return list(dispatch(self, environ, start_response))
    return dispatch(self, environ, start_response)

werkzeug_app.DomainDispatcherApplication.__call__ = serialized_writes
main(sys.argv[1:])
"#;

/// A moto server process, killed when dropped.
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
    log: tempfile::NamedTempFile,
}

impl MotoServer {
    /// Starts moto on a free loopback port and waits (at most 60 s) until it answers.
    /// Panics when moto is not installed: run `scripts/install-moto`.
    pub fn start() -> MotoServer {
        let dir = moto_dir();
        assert!(
            dir.join("moto").join("server.py").exists(),
            "moto {MOTO_VERSION} is not installed at {}: run scripts/install-moto (scripts/test does)",
            dir.display()
        );
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("moto log file");
        let child = Command::new("python3")
            .args([
                "-c",
                MOTO_LAUNCHER,
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("PYTHONPATH", &dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("log handle"))
            .stderr(log.reopen().expect("log handle"))
            .spawn()
            .expect("spawn python3 running moto.server");
        let mut server = MotoServer {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if server.request("GET", "/moto-api/data.json").is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "moto exited ({status}) before answering; log:\n{}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto did not answer on {} within 60 s; log:\n{}",
                server.addr,
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts moto, creates `buckets`, then makes it check credentials like S3 does
    /// (moto's IAM-style authentication): from then on a request signed with an
    /// unknown access key is refused with HTTP 403 `InvalidAccessKeyId`. No access
    /// key is known to it, so every signed request is refused: this server is for
    /// testing how credential errors are reported.
    pub fn start_with_auth(buckets: &[&str]) -> MotoServer {
        let server = MotoServer::start();
        for bucket in buckets {
            server.create_bucket(bucket);
        }
        // moto's switch: the number of requests it still serves without checking
        // credentials (counted from now).
        let status = server
            .request_with_body("POST", "/moto-api/reset-auth", "0")
            .unwrap_or_else(|e| panic!("enable moto authentication: {e}"));
        assert_eq!(status, 200, "enable moto authentication: HTTP {status}");
        server
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What moto printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Creates `bucket` (a plain unsigned PUT; moto accepts it).
    pub fn create_bucket(&self, bucket: &str) {
        let status = self
            .request("PUT", &format!("/{bucket}"))
            .unwrap_or_else(|e| panic!("create bucket {bucket}: {e}"));
        assert_eq!(status, 200, "create bucket {bucket}: HTTP {status}");
    }

    /// The environment a `tusk` subprocess needs to reach this server: endpoint,
    /// credentials and region in the AWS variables, and no shared config or credentials
    /// file (so the developer's `~/.aws` never takes part).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(no_aws_files())
        .collect()
    }

    /// The settings of a store at `s3://bucket/prefix` on this server, with explicit
    /// endpoint, region and credentials (the process environment is not read).
    pub fn config(&self, bucket: &str, prefix: &str) -> S3Config {
        let url = format!(
            "s3://{bucket}/{prefix}?endpoint={}&region={REGION}",
            self.endpoint()
        );
        let mut config = S3Config::from_url_with_env(&url, |_| None).expect("valid s3 url");
        config.static_credentials = Some((ACCESS_KEY.to_string(), SECRET_KEY.to_string()));
        config
    }

    /// A store at `s3://bucket/prefix` on this server (see [`MotoServer::config`]).
    pub fn store(&self, bucket: &str, prefix: &str) -> S3Store {
        S3Store::new(self.config(bucket, prefix))
    }

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel but
    /// nothing answers. State is kept.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Kills the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} moto: {status}");
    }

    /// One bodiless HTTP/1.1 request; returns the status code.
    fn request(&self, method: &str, path: &str) -> std::io::Result<u16> {
        self.request_with_body(method, path, "")
    }

    /// One unsigned HTTP/1.1 request with a text body; returns the status code.
    fn request_with_body(&self, method: &str, path: &str, body: &str) -> std::io::Result<u16> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        let text = String::from_utf8_lossy(&head);
        text.get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text:?}")))
    }
}

/// `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` set to an empty file, so that a
/// `tusk` process reads no profile (the default ones live in `~/.aws`).
pub fn no_aws_files() -> Vec<(String, String)> {
    ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]
        .into_iter()
        .map(|name| (name.to_string(), "/dev/null".to_string()))
        .collect()
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // A stopped process still dies of SIGKILL.
        self.kill();
    }
}
