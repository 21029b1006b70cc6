//! A real headless browser for the status page tests: Debian's `chromium`
//! (installed by `scripts/install-chromium`), or the binary `$TUSK_CHROMIUM` names.
//!
//! Chromium runs with a throw-away profile and every background service off
//! (network fetches of its own would stall on a machine without internet), and is
//! killed if it has not finished within the timeout.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The flags every run gets, before the per-run ones.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The chromium binary: `$TUSK_CHROMIUM`, else `/usr/bin/chromium`. Panics with
/// what to do when neither is there.
pub fn chromium() -> PathBuf {
    let bin = std::env::var_os("TUSK_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        bin.is_file(),
        "chromium not found at {}: the status page test runs a real headless browser. \
         Run scripts/install-chromium (Debian's chromium package), or set TUSK_CHROMIUM \
         to a chromium binary",
        bin.display()
    );
    bin
}

/// Runs chromium headless with `args` (after the fixed flags and a fresh profile),
/// at most `timeout`; returns its stdout. Panics (with its stderr) when it fails or
/// runs out of time.
pub fn run_chromium(args: &[&str], timeout: Duration) -> String {
    let profile = tempfile::tempdir().expect("a temp profile dir");
    let out_path = profile.path().join("stdout");
    let err_path = profile.path().join("stderr");
    let mut child = Command::new(chromium())
        .args(FLAGS)
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("create chromium's stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("create chromium's stderr file"))
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {} did not finish within {timeout:?}; stderr:\n{}",
                args.join(" "),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        status.success(),
        "chromium {} failed ({status}); stderr:\n{}",
        args.join(" "),
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    stdout
}

/// The DOM of `url` after its scripts ran for up to 5 s of virtual time.
pub fn dump_dom(url: &str, timeout: Duration) -> String {
    run_chromium(&["--virtual-time-budget=5000", "--dump-dom", url], timeout)
}

/// A minimal HTTP/1.0 GET of `path` on `addr`: the status code and the body.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the HTTP listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send the request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read the HTTP answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, body.to_string())
}
