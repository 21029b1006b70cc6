//! TLS end to end: real `tusk serve` (TLS and mTLS) and real `tusk get` / `tusk
//! status` processes, with certificates made in the test. An https:// address is
//! never silently spoken to in plaintext.

use std::path::Path;
use std::time::Duration;

use tusk_tests::certs::TestCa;
use tusk_tests::{ServerProcess, tusk, tusk_err, tusk_ok, wait_for, write_tsv};

const DOMAIN: &str = "pages";

/// A store under `dir` with one activated version of `k1 -> one`.
fn store_with_one_version(dir: &Path) -> String {
    let store = dir.join("store");
    let input = dir.join("in.tsv");
    write_tsv(&input, &[("k1".into(), "one".into())]);
    tusk_ok(&[
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        DOMAIN,
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--shards",
        "2",
    ]);
    store.to_str().unwrap().to_string()
}

/// Starts `tusk serve` over `store` with `extra` flags.
fn serve(dir: &Path, store: &str, extra: &[&str]) -> ServerProcess {
    let data = dir.join("data");
    let mut args = vec![
        "--store",
        store,
        "--domain",
        DOMAIN,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--poll-interval",
        "100ms",
    ];
    args.extend_from_slice(extra);
    ServerProcess::start(&args, &dir.join("server.log"))
}

#[test]
fn get_over_tls_needs_the_ca_and_https_never_falls_back_to_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with_one_version(tmp.path());
    let ca = TestCa::new("tusk e2e ca");
    let files = ca.write_leaf(tmp.path(), "node");
    let server = serve(
        tmp.path(),
        &store,
        &[
            "--tls-cert",
            files.cert.to_str().unwrap(),
            "--tls-key",
            files.key.to_str().unwrap(),
        ],
    );
    let https = format!("https://{}", server.server_arg());
    let ca_path = files.ca.to_str().unwrap();
    let get = |server: &str, extra: &[&str]| {
        let mut args = vec!["get", "--server", server, "--domain", DOMAIN];
        args.extend_from_slice(extra);
        args.push("k1");
        tusk(&args)
    };

    let out = wait_for("the TLS server to answer", Duration::from_secs(30), || {
        let out = get(&https, &["--tls-ca", ca_path]);
        out.status.success().then_some(out)
    });
    assert_eq!(String::from_utf8_lossy(&out.stdout), "k1\tone\n");
    // A bare address with --tls-ca uses TLS too; status connects the same way.
    let out = get(&server.server_arg(), &["--tls-ca", ca_path]);
    assert!(out.status.success(), "{out:?}");
    let status = tusk_ok(&["status", "--server", &https, "--tls-ca", ca_path]);
    assert!(status.contains(DOMAIN), "{status}");
    let fleet = tusk_ok(&["status", "--servers", &https, "--tls-ca", ca_path]);
    assert!(fleet.contains(DOMAIN), "{fleet}");

    // Without --tls-ca: an error naming the flag, no connection attempted.
    let err = tusk_err(&["get", "--server", &https, "--domain", DOMAIN, "k1"]);
    assert!(err.contains("--tls-ca"), "{err}");
    let err = tusk_err(&["status", "--servers", &https]);
    assert!(err.contains("--tls-ca"), "{err}");
    // Plaintext to the TLS server fails.
    let out = get(&server.server_arg(), &[]);
    assert!(!out.status.success(), "plaintext answered: {out:?}");
    assert!(server.terminate(), "clean exit");
}

#[test]
fn https_against_a_plaintext_server_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with_one_version(tmp.path());
    let ca = TestCa::new("tusk e2e ca");
    let files = ca.write_leaf(tmp.path(), "client");
    let server = serve(tmp.path(), &store, &[]);
    let plain = server.server_arg();
    wait_for(
        "the plaintext server to answer",
        Duration::from_secs(30),
        || {
            tusk(&["get", "--server", &plain, "--domain", DOMAIN, "k1"])
                .status
                .success()
                .then_some(())
        },
    );
    let https = format!("https://{plain}");
    let err = tusk_err(&[
        "get",
        "--server",
        &https,
        "--tls-ca",
        files.ca.to_str().unwrap(),
        "--domain",
        DOMAIN,
        "k1",
    ]);
    assert!(!err.contains("one"), "{err}");
    assert!(err.contains(&https), "{err}");
    assert!(server.terminate(), "clean exit");
}

#[test]
fn an_mtls_server_answers_get_only_with_a_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with_one_version(tmp.path());
    let ca = TestCa::new("tusk e2e ca");
    let node = ca.write_leaf(tmp.path(), "node");
    let client = ca.write_leaf(tmp.path(), "client");
    let server = serve(
        tmp.path(),
        &store,
        &[
            "--tls-cert",
            node.cert.to_str().unwrap(),
            "--tls-key",
            node.key.to_str().unwrap(),
            "--tls-client-ca",
            node.ca.to_str().unwrap(),
        ],
    );
    let addr = server.server_arg();
    let ca_path = node.ca.to_str().unwrap();
    let with_cert = [
        "get",
        "--server",
        &addr,
        "--domain",
        DOMAIN,
        "--tls-ca",
        ca_path,
        "--tls-cert",
        client.cert.to_str().unwrap(),
        "--tls-key",
        client.key.to_str().unwrap(),
        "k1",
    ];
    let out = wait_for("the mTLS server to answer", Duration::from_secs(30), || {
        let out = tusk(&with_cert);
        out.status.success().then_some(out)
    });
    assert_eq!(String::from_utf8_lossy(&out.stdout), "k1\tone\n");
    let err = tusk_err(&[
        "get", "--server", &addr, "--domain", DOMAIN, "--tls-ca", ca_path, "k1",
    ]);
    assert!(!err.contains("one"), "{err}");
    assert!(server.terminate(), "clean exit");
}
