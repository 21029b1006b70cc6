//! The spine, end to end over real processes and sockets: write v1, serve it, read every
//! key, publish v2 under a reader loop, roll back, restart without copying, refuse a
//! corrupted version while serving on. It runs twice: on the local-directory store and
//! on an `s3://` store (a real S3-protocol server, moto, on 127.0.0.1).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tusk_store::{LocalStore, ObjectStore, PutMode};
use tusk_tests::s3::MotoServer;
use tusk_tests::{ServerProcess, Tusk, runtime, wait_for, write_tsv};

const DOMAIN: &str = "pages";
const KEYS: usize = 3000;

fn records(tag: &str) -> Vec<(String, String)> {
    (0..KEYS)
        .map(|i| (format!("key-{i:05}"), format!("{tag}-{i}")))
        .collect()
}

/// Where the spine runs: a store URL, the environment `tusk` needs to reach it, and
/// direct access to its objects (to damage one).
struct Fixture {
    url: String,
    tusk: Tusk,
    objects: Arc<dyn ObjectStore>,
    _moto: Option<MotoServer>,
}

impl Fixture {
    fn local(dir: &Path) -> Fixture {
        let root = dir.join("store");
        Fixture {
            url: root.to_str().unwrap().to_string(),
            tusk: Tusk::default(),
            objects: Arc::new(LocalStore::new(&root).unwrap()),
            _moto: None,
        }
    }

    fn s3() -> Fixture {
        let moto = MotoServer::start();
        moto.create_bucket("spine");
        Fixture {
            url: "s3://spine/tusk/e2e".to_string(),
            tusk: Tusk::with_env(&moto.env()),
            objects: Arc::new(moto.store("spine", "tusk/e2e")),
            _moto: Some(moto),
        }
    }

    /// `tusk ARGS --store URL --domain pages`, asserting success.
    fn ok(&self, args: &[&str]) -> String {
        let full = [args, &["--store", &self.url, "--domain", DOMAIN]].concat();
        self.tusk.ok(&full)
    }

    /// Same, asserting failure; returns stderr.
    fn err(&self, args: &[&str]) -> String {
        let full = [args, &["--store", &self.url, "--domain", DOMAIN]].concat();
        self.tusk.err(&full)
    }

    /// Flips one byte in the middle of a stored object, replacing it.
    fn corrupt(&self, rt: &tokio::runtime::Runtime, key: &str) {
        rt.block_on(async {
            let mut bytes = self
                .objects
                .get(key)
                .await
                .expect("read the object")
                .bytes
                .to_vec();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x5a;
            self.objects
                .put(key, Bytes::from(bytes), PutMode::Overwrite)
                .await
                .expect("replace the object");
        });
    }
}

/// `tusk write --json` and return the new version id.
fn write_version(fx: &Fixture, input: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "write",
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--shards",
        "4",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = fx.ok(&args);
    let summary: serde_json::Value =
        serde_json::from_str(out.trim()).expect("write --json prints JSON");
    assert_eq!(summary["records"], KEYS as u64, "{summary}");
    assert_eq!(summary["shards"], 4, "{summary}");
    summary["version"]
        .as_str()
        .expect("summary has a version")
        .to_string()
}

/// Reads every key with MultiGet batches; returns the version that answered, asserting
/// every value carries `tag`.
async fn read_all(addr: &str, tag: &str) -> String {
    let client = tusk_client::Node::connect(addr).await.expect("connect");
    let keys: Vec<Vec<u8>> = (0..KEYS)
        .map(|i| format!("key-{i:05}").into_bytes())
        .collect();
    let mut version = None;
    for (chunk_no, chunk) in keys.chunks(500).enumerate() {
        let reply = client
            .multi_get(DOMAIN, chunk.to_vec(), None)
            .await
            .expect("multi_get");
        assert_eq!(reply.entries.len(), chunk.len());
        for (j, entry) in reply.entries.iter().enumerate() {
            let i = chunk_no * 500 + j;
            assert!(entry.found, "key-{i:05} not found");
            assert_eq!(
                entry.value,
                format!("{tag}-{i}").into_bytes(),
                "value of key-{i:05}"
            );
        }
        if let Some(v) = &version {
            assert_eq!(v, &reply.version, "one read_all spans two versions");
        }
        version = Some(reply.version);
    }
    version.expect("at least one batch").into()
}

/// The version the server answers with right now (one Get).
fn served_version(rt: &tokio::runtime::Runtime, addr: &str) -> Option<String> {
    rt.block_on(async {
        let client = tusk_client::Node::connect(addr).await.ok()?;
        client
            .get(DOMAIN, b"key-00000", None)
            .await
            .ok()
            .map(|r| r.version.into())
    })
}

fn shard_inodes(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        if entry.extension().is_some_and(|e| e == "tsk") {
            let ino = std::fs::metadata(&entry).unwrap().ino();
            out.push((entry, ino));
        }
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn spine_on_the_local_store() {
    let tmp = tempfile::tempdir().unwrap();
    spine(&Fixture::local(tmp.path()), tmp.path());
}

#[test]
fn spine_on_s3() {
    let tmp = tempfile::tempdir().unwrap();
    spine(&Fixture::s3(), tmp.path());
}

fn spine(fx: &Fixture, tmp: &Path) {
    let data = tmp.join("data");
    let rt = runtime();

    // v1 published and activated.
    let v1_input = tmp.join("v1.tsv");
    write_tsv(&v1_input, &records("v1"));
    let v1 = write_version(fx, &v1_input, &[]);

    let serve_args = |data: &Path| -> Vec<String> {
        [
            "--store",
            &fx.url,
            "--domain",
            DOMAIN,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--poll-interval",
            "100ms",
            "--metrics-listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = serve_args(&data);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log1 = tmp.join("server1.log");
    let server = ServerProcess::start_with_env(&args, &log1, fx.tusk.env());
    let addr = server.server_arg();

    wait_for("v1 to be served", Duration::from_secs(30), || {
        served_version(&rt, &addr).filter(|v| v == &v1)
    });
    assert_eq!(rt.block_on(read_all(&addr, "v1")), v1);

    // Publish v2 while a reader loop runs: no failed read, each MultiGet from one version.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let reader = {
        let (stop, failures, reads, seen, addr) = (
            stop.clone(),
            failures.clone(),
            reads.clone(),
            seen.clone(),
            addr.clone(),
        );
        rt.spawn(async move {
            let client = tusk_client::Node::connect(&addr).await.expect("connect");
            let keys: Vec<Vec<u8>> = (0..KEYS)
                .step_by(37)
                .map(|i| format!("key-{i:05}").into_bytes())
                .collect();
            while !stop.load(Ordering::Relaxed) {
                match client.multi_get(DOMAIN, keys.clone(), None).await {
                    Ok(reply) => {
                        let tags: HashSet<String> = reply
                            .entries
                            .iter()
                            .map(|e| {
                                let v = String::from_utf8_lossy(&e.value).to_string();
                                v.split('-').next().unwrap_or_default().to_string()
                            })
                            .collect();
                        if tags.len() != 1 || reply.entries.iter().any(|e| !e.found) {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        seen.lock()
                            .unwrap()
                            .insert((reply.version.to_string(), tags.into_iter().next()));
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    wait_for("the reader loop to start", Duration::from_secs(10), || {
        (reads.load(Ordering::Relaxed) > 10).then_some(())
    });
    let v2_input = tmp.join("v2.tsv");
    write_tsv(&v2_input, &records("v2"));
    let v2 = write_version(fx, &v2_input, &[]);
    assert_ne!(v1, v2);
    wait_for("v2 to be served", Duration::from_secs(30), || {
        served_version(&rt, &addr).filter(|v| v == &v2)
    });
    let before = reads.load(Ordering::Relaxed);
    wait_for("more reads after the swap", Duration::from_secs(10), || {
        (reads.load(Ordering::Relaxed) > before + 10).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    rt.block_on(reader).unwrap();
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "reads failed or mixed versions during the swap"
    );
    let seen = seen.lock().unwrap().clone();
    let expected: HashSet<(String, Option<String>)> = [
        (v1.clone(), Some("v1".to_string())),
        (v2.clone(), Some("v2".to_string())),
    ]
    .into();
    assert_eq!(
        seen, expected,
        "each answer names the version its values came from"
    );
    assert_eq!(rt.block_on(read_all(&addr, "v2")), v2);

    // Roll back: v1 again, recorded in the history.
    let out = fx.ok(&["rollback", "--json"]);
    let current: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(current["version"], v1.as_str());
    wait_for("v1 after rollback", Duration::from_secs(30), || {
        served_version(&rt, &addr).filter(|v| v == &v1)
    });
    assert_eq!(rt.block_on(read_all(&addr, "v1")), v1);
    let history: serde_json::Value =
        serde_json::from_str(fx.ok(&["history", "--json"]).trim()).unwrap();
    let actions: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap(),
                h["version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("activate", v1.as_str()),
            ("activate", v2.as_str()),
            ("rollback", v1.as_str())
        ]
    );

    // Restart: the local copies are reopened, not copied again (same inodes).
    let inodes_before = shard_inodes(&data);
    assert!(
        !inodes_before.is_empty(),
        "the server keeps shards in its data dir"
    );
    assert!(server.terminate(), "tusk serve exits cleanly on SIGTERM");
    let log2 = tmp.join("server2.log");
    let server = ServerProcess::start_with_env(&args, &log2, fx.tusk.env());
    let addr = server.server_arg();
    wait_for("v1 after restart", Duration::from_secs(30), || {
        served_version(&rt, &addr).filter(|v| v == &v1)
    });
    assert_eq!(rt.block_on(read_all(&addr, "v1")), v1);
    let inodes_after = shard_inodes(&data);
    for (path, ino) in &inodes_before {
        if let Some((_, after)) = inodes_after.iter().find(|(p, _)| p == path) {
            assert_eq!(
                ino,
                after,
                "{} was copied again after restart",
                path.display()
            );
        }
    }
    let v1_files: Vec<_> = inodes_before
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains(&v1))
        .collect();
    assert!(
        !v1_files.is_empty() && v1_files.iter().all(|f| inodes_after.contains(f)),
        "v1 reused in place"
    );

    // A version with a corrupted shard is refused; v1 keeps serving; status says why.
    let v3_input = tmp.join("v3.tsv");
    write_tsv(&v3_input, &records("v3"));
    let v3 = write_version(fx, &v3_input, &["--no-activate"]);
    fx.corrupt(&rt, &format!("{DOMAIN}/versions/{v3}/shard-00001.tsk"));
    let err = fx.err(&["verify", "--version", &v3]);
    assert!(
        err.contains("shard-00001") && err.contains(&v3),
        "verify names the failure: {err}"
    );
    fx.ok(&["activate", &v3]);
    let status = wait_for(
        "status to report the failed load",
        Duration::from_secs(30),
        || {
            let out = fx.tusk.ok(&["status", "--server", &addr, "--json"]);
            let status: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
            let text = status.to_string();
            (text.contains("shard-00001") && text.contains(&v3)).then_some(status)
        },
    );
    let domain = &status["domains"][0];
    assert_eq!(
        domain["current_version"],
        v1.as_str(),
        "still serving v1: {status}"
    );
    assert_eq!(served_version(&rt, &addr).as_deref(), Some(v1.as_str()));
    assert_eq!(rt.block_on(read_all(&addr, "v1")), v1);
    assert!(
        server.log().contains("shard-00001"),
        "the log names the bad shard:\n{}",
        server.log()
    );
    let metrics_addr = server.metrics_addr.expect("metrics address");
    let metrics = http_get(&metrics_addr.to_string(), "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("tusk_load_failures_total") && !l.trim_end().ends_with(" 0")),
        "metrics count the failed load:\n{metrics}"
    );
    assert!(server.terminate());
}

/// A minimal HTTP/1.0 GET, enough for /metrics.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    stream
        .read_to_string(&mut body)
        .expect("read the metrics response");
    body
}
