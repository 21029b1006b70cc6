//! The Python example client (`examples/python/client.py`) against a real `tusk
//! serve`: stubs generated from `proto/tusk/v1/tusk.proto` with grpcio-tools at test
//! time, Get, MultiGet and Status over plaintext and over TLS.
//!
//! Needs grpcio and grpcio-tools in `.cache/python`: `./scripts/install-grpcio`
//! (`scripts/test` runs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tusk_client::{Node, NodeOptions, TlsOptions};
use tusk_tests::certs::TestCa;
use tusk_tests::{ServerProcess, Tusk, installed_python_dir, repo_root, runtime, wait_for};

const DOMAIN: &str = "pages";

/// Where scripts/install-grpcio put grpcio; panics saying how to install it when it
/// is not there.
fn grpcio_dir() -> PathBuf {
    installed_python_dir(
        "TUSK_PYTHON_DIR",
        "python",
        ".tusk-installed-grpcio",
        "install-grpcio",
    )
}

/// Runs `cmd` to completion, killing it after `timeout`; stdout and stderr go
/// through files in `dir` so no pipe can fill up.
fn run_bounded(mut cmd: Command, dir: &Path, timeout: Duration) -> Output {
    let out_path = dir.join("py.out");
    let err_path = dir.join("py.err");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("python3 starts");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for python3") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} ran past {timeout:?}; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).expect("read stdout"),
        stderr: std::fs::read(&err_path).expect("read stderr"),
    }
}

/// `python3` with `PYTHONPATH` = `paths`, and nothing from the developer's Python
/// set-up that would change which modules load.
fn python(paths: &[&Path]) -> Command {
    let mut cmd = Command::new("python3");
    for var in [
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
    ] {
        cmd.env_remove(var);
    }
    let joined = std::env::join_paths(paths).expect("paths without ':'");
    cmd.env("PYTHONPATH", joined)
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// The Python stubs of tusk.proto, generated into `dir/stubs`.
fn generate_stubs(grpcio: &Path, dir: &Path) -> PathBuf {
    let stubs = dir.join("stubs");
    std::fs::create_dir_all(&stubs).expect("stubs dir");
    let mut cmd = python(&[grpcio]);
    cmd.current_dir(repo_root().join("proto")).args([
        "-m",
        "grpc_tools.protoc",
        "-I",
        ".",
        &format!("--python_out={}", stubs.display()),
        &format!("--grpc_python_out={}", stubs.display()),
        "tusk/v1/tusk.proto",
    ]);
    let out = run_bounded(cmd, dir, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "grpc_tools.protoc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stubs.join("tusk/v1/tusk_pb2_grpc.py").exists());
    stubs
}

/// Publishes one version of `DOMAIN` under `dir/store`; returns the store and the
/// version id.
fn publish(dir: &Path) -> (PathBuf, String) {
    let store = dir.join("store");
    let input = dir.join("in.tsv");
    let mut records: Vec<(String, String)> = (0..50)
        .map(|i| (format!("key-{i:02}"), format!("value {i}")))
        .collect();
    records.push(("grüße".into(), "überall".into()));
    records.push(("empty".into(), String::new()));
    let summary = Tusk::default().write_version(
        store.to_str().expect("utf-8 path"),
        DOMAIN,
        &input,
        &records,
        3,
        &[],
    );
    let version = summary["version"].as_str().expect("a version").to_string();
    (store, version)
}

/// Starts `tusk serve` over `store` with `extra` flags and waits (≤ 30 s) until it
/// answers from `version`, asking it over TLS when `tls` is given.
fn serve(
    dir: &Path,
    store: &Path,
    extra: &[&str],
    tls: Option<TlsOptions>,
    version: &str,
) -> ServerProcess {
    let data = dir.join("data");
    let mut args = vec![
        "--store",
        store.to_str().expect("utf-8 path"),
        "--domain",
        DOMAIN,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let server = ServerProcess::start(&args, &dir.join("server.log"));
    let rt = runtime();
    let _in_runtime = rt.enter();
    let options = NodeOptions {
        tls,
        request_timeout: Some(Duration::from_secs(2)),
        ..NodeOptions::default()
    };
    let node = Node::lazy(&server.server_arg(), &options).expect("an address");
    wait_for(
        "the server to serve the version",
        Duration::from_secs(30),
        || {
            let answer = rt.block_on(node.get(DOMAIN, b"key-00", None)).ok()?;
            (answer.version == version).then_some(())
        },
    );
    server
}

/// Runs the example; returns its stdout, asserting success.
fn run_example(grpcio: &Path, stubs: &Path, dir: &Path, args: &[&str]) -> String {
    let mut cmd = python(&[stubs, grpcio]);
    cmd.arg(repo_root().join("examples/python/client.py"))
        .args(args);
    let out = run_bounded(cmd, dir, Duration::from_secs(60));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert!(
        out.status.success(),
        "client.py {} failed: {}\nstdout: {stdout}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What the example prints for `key-07 grüße empty absent` from `version`.
fn assert_answers(stdout: &str, version: &str) {
    let expected = [
        format!("Get \"key-07\": found \"value 7\" (version {version})"),
        format!("Get \"grüße\": found \"überall\" (version {version})"),
        format!("Get \"empty\": found \"\" (version {version})"),
        format!("Get \"absent\": not found (version {version})"),
        format!("MultiGet 4 keys (version {version}):"),
        "  \"key-07\": found \"value 7\"".to_string(),
        "  \"grüße\": found \"überall\"".to_string(),
        "  \"empty\": found \"\"".to_string(),
        "  \"absent\": not found".to_string(),
        format!("  {DOMAIN}: SERVING version {version}, local [{version}]"),
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    for line in &expected {
        assert!(
            lines.contains(&line.as_str()),
            "no line {line:?} in:\n{stdout}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Status: node 127.0.0.1:")),
        "{stdout}"
    );
}

#[test]
fn the_python_example_reads_present_and_absent_keys() {
    let grpcio = grpcio_dir();
    let tmp = tempfile::tempdir().expect("tempdir");
    let stubs = generate_stubs(&grpcio, tmp.path());
    let (store, version) = publish(tmp.path());
    let server = serve(tmp.path(), &store, &[], None, &version);
    let addr = server.server_arg();
    let keys = ["key-07", "grüße", "empty", "absent"];
    let stdout = run_example(
        &grpcio,
        &stubs,
        tmp.path(),
        &[&[addr.as_str(), DOMAIN][..], &keys].concat(),
    );
    assert_answers(&stdout, &version);

    // An unknown domain: the gRPC code and the server's message, and a failure.
    let mut cmd = python(&[&stubs, &grpcio]);
    cmd.arg(repo_root().join("examples/python/client.py"))
        .args([addr.as_str(), "nosuch", "k"]);
    let out = run_bounded(cmd, tmp.path(), Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("NOT_FOUND") && stderr.contains("nosuch"),
        "{stderr}"
    );
    assert!(server.terminate(), "clean exit");
}

#[test]
fn the_python_example_speaks_tls() {
    let grpcio = grpcio_dir();
    let tmp = tempfile::tempdir().expect("tempdir");
    let stubs = generate_stubs(&grpcio, tmp.path());
    let (store, version) = publish(tmp.path());
    let ca = TestCa::new("tusk python ca");
    let files = ca.write_leaf(tmp.path(), "node");
    let ca_path = files.ca.to_str().expect("utf-8 path").to_string();
    let server = serve(
        tmp.path(),
        &store,
        &[
            "--tls-cert",
            files.cert.to_str().expect("utf-8 path"),
            "--tls-key",
            files.key.to_str().expect("utf-8 path"),
        ],
        Some(TlsOptions {
            ca: Some(ca.cert_pem().into_bytes()),
            ..TlsOptions::default()
        }),
        &version,
    );
    let https = format!("https://{}", server.server_arg());
    let keys = ["key-07", "grüße", "empty", "absent"];
    let stdout = run_example(
        &grpcio,
        &stubs,
        tmp.path(),
        &[&[https.as_str(), DOMAIN, "--tls-ca", &ca_path][..], &keys].concat(),
    );
    assert_answers(&stdout, &version);
    assert!(server.terminate(), "clean exit");
}
