//! S3 faults seen through real `tusk` processes on a real S3-protocol server (moto on
//! 127.0.0.1): the server stops answering in the middle of `tusk write` and in the
//! middle of a `tusk serve` download, a shard object is corrupted or truncated in the
//! bucket, operators move CURRENT at the same moment, and the bucket or the
//! credentials are wrong.
//!
//! Each test starts its own moto; every wait is bounded; processes die on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tusk_store::{Catalog, ObjectStore, PutMode};
use tusk_tests::s3::MotoServer;
use tusk_tests::{ServerProcess, Tusk, tusk_bin, wait_for, write_tsv};

const BUCKET: &str = "tusk-faults";
const DOMAIN: &str = "pages";

/// Deterministic pseudo-random lowercase hex of `len` characters (xorshift), so
/// shards are as large as their input.
fn hex_noise(len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(&format!("{state:016x}"));
    }
    out.truncate(len);
    out
}

/// `count` records `key-NNNNNN` -> `TAG-NNNNNN-<noise>` of about `value_len` bytes.
fn records(tag: &str, count: usize, value_len: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let noise = hex_noise(value_len, i as u64 + 1);
            (format!("key-{i:06}"), format!("{tag}-{i:06}-{noise}"))
        })
        .collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The one `tusk: error: ...` line of a failed command's stderr (logs may precede it).
fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("tusk: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one error line in:\n{stderr}");
    lines[0].to_string()
}

/// A runtime for the few direct store calls the tests make.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A moto server with [`BUCKET`], the environment `tusk` needs to reach it, and a
/// direct handle on the objects under one prefix.
struct S3 {
    moto: MotoServer,
    tusk: Tusk,
    prefix: String,
}

impl S3 {
    fn start(prefix: &str) -> S3 {
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
    fn url(&self) -> String {
        format!(
            "s3://{BUCKET}/{}?attempt_timeout=1s&retry_deadline=3s",
            self.prefix
        )
    }

    /// `s3://BUCKET/PREFIX` with the default (generous) timeouts.
    fn plain_url(&self) -> String {
        format!("s3://{BUCKET}/{}", self.prefix)
    }

    fn objects(&self) -> Arc<dyn ObjectStore> {
        Arc::new(self.moto.store(BUCKET, &self.prefix))
    }

    fn catalog(&self) -> Catalog {
        Catalog::new(self.objects())
    }
}

/// A child process killed when dropped; stdout and stderr go to files.
struct Spawned {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Spawned {
    fn new(args: &[&str], env: &[(String, String)], dir: &Path, name: &str) -> Spawned {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let child = Command::new(tusk_bin())
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
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

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (at most `timeout`) for the exit; returns status, stdout and stderr.
    fn finish(mut self, timeout: Duration) -> (ExitStatus, String, String) {
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
fn write_version(
    tusk: &Tusk,
    url: &str,
    dir: &Path,
    records: &[(String, String)],
    shards: u32,
    extra: &[&str],
) -> String {
    let input = dir.join(format!("input-{}.tsv", records.len()));
    write_tsv(&input, records);
    let shards = shards.to_string();
    let mut args = vec![
        "write",
        "--store",
        url,
        "--domain",
        DOMAIN,
        "--format",
        "tsv",
        "--input",
        input.to_str().expect("utf-8 path"),
        "--shards",
        &shards,
        "--json",
    ];
    args.extend_from_slice(extra);
    let summary = json(&tusk.ok(&args));
    summary["version"]
        .as_str()
        .unwrap_or_else(|| panic!("a version in {summary}"))
        .to_string()
}

fn versions(tusk: &Tusk, url: &str) -> Vec<Value> {
    let out = tusk.ok(&["versions", "--store", url, "--domain", DOMAIN, "--json"]);
    json(&out).as_array().expect("a JSON array").clone()
}

/// The value and answering version of `key` on a server, if it answers.
fn get(addr: &str, key: &str) -> Option<(String, String)> {
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
fn domain_status(addr: &str) -> Value {
    let status = json(&tusk_tests::tusk_ok(&[
        "status", "--server", addr, "--json",
    ]));
    status["domains"][0].clone()
}

/// A minimal HTTP/1.0 GET, enough for /metrics.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send request");
    let mut body = String::new();
    stream.read_to_string(&mut body).expect("read metrics");
    body
}

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

/// The store stops answering while `tusk write` uploads shards: the write fails with
/// one line naming the bucket, leaves no visible version and no CURRENT, and a rerun
/// publishes.
#[test]
fn s3_stopping_mid_write_fails_cleanly_and_a_rerun_publishes() {
    let s3 = S3::start("write");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = s3.url();
    // 16 shards of about 1.5 MiB: uploaded four at a time, so when the first shard
    // object lands at least three more rounds and the manifest are still to come.
    let input = tmp.path().join("big.tsv");
    write_tsv(&input, &records("v", 24 * 1024, 1000));
    let args = [
        "write",
        "--store",
        url.as_str(),
        "--domain",
        DOMAIN,
        "--format",
        "tsv",
        "--input",
        input.to_str().expect("utf-8 path"),
        "--shards",
        "16",
        "--json",
    ];
    let mut writer = Spawned::new(&args, s3.tusk.env(), tmp.path(), "write");
    let shard_put = format!("PUT /{BUCKET}/write/{DOMAIN}/versions/");
    wait_for("the first shard upload", Duration::from_secs(60), || {
        let log = s3.moto.log();
        let landed = log
            .lines()
            .any(|l| l.contains(&shard_put) && l.contains("shard-"));
        (landed || writer.exited()).then_some(())
    });
    s3.moto.pause();
    let (status, stdout, stderr) = writer.finish(Duration::from_secs(30));
    s3.moto.resume();

    assert!(
        !status.success(),
        "the write must fail once the store stops (did it finish before the pause?):\n{stdout}"
    );
    let line = error_line(&stderr);
    eprintln!("the write failed: {line}");
    assert!(line.contains(&format!("s3://{BUCKET}/write")), "{line}");
    assert!(line.contains(&s3.moto.endpoint()), "{line}");
    assert!(
        line.contains("timed out") || line.contains("deadline"),
        "{line}"
    );

    assert_eq!(versions(&s3.tusk, &url), Vec::<Value>::new());
    let rt = runtime();
    let catalog = s3.catalog();
    let current = rt.block_on(catalog.current(DOMAIN)).expect("read CURRENT");
    assert_eq!(current, None, "no CURRENT after the failed write");
    let manifests: Vec<String> = rt
        .block_on(s3.objects().list(&format!("{DOMAIN}/")))
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with("MANIFEST.json"))
        .collect();
    assert!(manifests.is_empty(), "no manifest: {manifests:?}");

    let rerun = Spawned::new(&args, s3.tusk.env(), tmp.path(), "rerun");
    let (status, stdout, stderr) = rerun.finish(Duration::from_secs(120));
    assert!(status.success(), "rerun: {stderr}");
    let version = json(&stdout)["version"]
        .as_str()
        .expect("version")
        .to_string();
    let listed = versions(&s3.tusk, &url);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["version"], version.as_str());
    assert_eq!(listed[0]["current"], true);
    s3.tusk.ok(&[
        "verify",
        "--store",
        &url,
        "--domain",
        DOMAIN,
        "--version",
        &version,
    ]);
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
    let interrupted = wait_for(
        "status to report the interruption",
        Duration::from_secs(30),
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

/// Replaces an object of the bucket with `damage(bytes)`.
fn damage(
    rt: &tokio::runtime::Runtime,
    objects: &dyn ObjectStore,
    key: &str,
    damage: impl FnOnce(&mut Vec<u8>),
) {
    let mut bytes = rt
        .block_on(objects.get(key))
        .expect("read shard")
        .bytes
        .to_vec();
    damage(&mut bytes);
    rt.block_on(objects.put(key, Bytes::from(bytes), PutMode::Overwrite))
        .expect("overwrite shard");
}

/// A shard object corrupted (a byte flipped) or truncated in the bucket: the server
/// refuses the version and keeps serving v1, status names the shard and the cause,
/// `/metrics` counts the failure, and `tusk verify` fails naming the shard.
#[test]
fn s3_corrupt_or_truncated_shards_are_refused() {
    let s3 = S3::start("damage");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = s3.url();
    let rt = runtime();
    let objects = s3.objects();
    let v1 = write_version(&s3.tusk, &url, tmp.path(), &records("one", 300, 20), 3, &[]);
    let data = tmp.path().join("data");
    let server = ServerProcess::start_with_env(
        &[
            "--store",
            &url,
            "--domain",
            DOMAIN,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().expect("utf-8 path"),
            "--poll-interval",
            "100ms",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &tmp.path().join("server.log"),
        s3.tusk.env(),
    );
    let addr = server.server_arg();
    let key = "key-000042";
    wait_for("v1 served", Duration::from_secs(30), || {
        get(&addr, key).filter(|(_, version)| version == &v1)
    });

    // (version tag, shard to damage, the damage, words naming the cause)
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, &str, Damage, &[&str]); 2] = [
        (
            "flipped",
            "shard-00001",
            |b| {
                let middle = b.len() / 2;
                b[middle] ^= 0x5a;
            },
            &["checksum", "crc32"],
        ),
        (
            "truncated",
            "shard-00002",
            |b| b.truncate(b.len() - 100),
            &["checksum", "bytes"],
        ),
    ];
    for (tag, shard, hurt, cause) in cases {
        let records = records(tag, 300 + tag.len(), 20);
        let version = write_version(&s3.tusk, &url, tmp.path(), &records, 3, &["--no-activate"]);
        let object = format!("{DOMAIN}/versions/{version}/{shard}.tsk");
        damage(&rt, objects.as_ref(), &object, hurt);

        s3.tusk
            .ok(&["activate", "--store", &url, "--domain", DOMAIN, &version]);
        let status = wait_for(
            "status to name the refused shard",
            Duration::from_secs(30),
            || {
                let status = domain_status(&addr);
                let error = status["last_error"].as_str().unwrap_or("").to_string();
                (error.contains(&version) && error.contains(shard)).then_some(status)
            },
        );
        let error = status["last_error"].as_str().unwrap_or("");
        assert!(cause.iter().all(|w| error.contains(w)), "{tag}: {error}");
        eprintln!("{tag}: the server refused {version}: {error}");
        assert_eq!(status["current_version"], v1.as_str(), "{tag}: {status}");
        assert_eq!(
            status["failed_version"],
            version.as_str(),
            "{tag}: {status}"
        );
        let (value, answered) = get(&addr, key).expect("v1 still answers");
        assert_eq!(answered, v1, "{tag}");
        assert!(value.starts_with("one-000042-"), "{tag}: {value}");

        let metrics_addr = server.metrics_addr.expect("metrics address").to_string();
        let metrics = http_get(&metrics_addr, "/metrics");
        let failures: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("tusk_load_failures_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(failures > 0.0, "{tag}: failures counted:\n{metrics}");

        let out = s3.tusk.run(&[
            "verify",
            "--store",
            &url,
            "--domain",
            DOMAIN,
            "--version",
            &version,
        ]);
        assert!(!out.status.success(), "{tag}: verify must fail");
        let line = error_line(&String::from_utf8_lossy(&out.stderr));
        assert!(line.contains(shard), "{tag}: {line}");
        assert!(line.contains(&version), "{tag}: {line}");
        eprintln!("{tag}: verify failed: {line}");
    }
    assert!(server.terminate(), "clean exit");
}

/// Six operators move CURRENT of `url` at the same moment, `rounds` times: each
/// either succeeds or fails with a conflict; the history grows by exactly the
/// successes; CURRENT is the last history record; someone always wins.
fn concurrent_pointer_moves(tusk: &Tusk, url: &str, catalog: &Catalog, dir: &Path, rounds: usize) {
    let rt = runtime();
    let small = |tag: &str| records(tag, 10, 8);
    let v1 = write_version(tusk, url, dir, &small("one"), 1, &[]);
    let v2 = write_version(tusk, url, dir, &small("two"), 1, &["--no-activate"]);
    let v3 = write_version(tusk, url, dir, &small("three"), 1, &["--no-activate"]);
    // Two records, so a plain rollback always has a previous version.
    tusk.ok(&["activate", "--store", url, "--domain", DOMAIN, &v2]);
    let history = |tusk: &Tusk| -> Vec<Value> {
        let out = tusk.ok(&["history", "--store", url, "--domain", DOMAIN, "--json"]);
        json(&out).as_array().expect("a JSON array").clone()
    };
    let moves: [Vec<&str>; 6] = [
        vec!["activate", &v1],
        vec!["activate", &v2],
        vec!["activate", &v3],
        vec!["rollback"],
        vec!["rollback", "--to", &v1],
        vec!["rollback", "--to", &v3],
    ];
    for round in 0..rounds {
        let before = history(tusk).len();
        let running: Vec<Spawned> = moves
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let args = [m.as_slice(), &["--store", url, "--domain", DOMAIN]].concat();
                Spawned::new(&args, tusk.env(), dir, &format!("move-{round}-{i}"))
            })
            .collect();
        let mut wins = 0;
        for (m, process) in moves.iter().zip(running) {
            let (status, _, stderr) = process.finish(Duration::from_secs(60));
            if status.success() {
                wins += 1;
            } else {
                let line = error_line(&stderr);
                assert!(line.contains("conflict"), "{m:?} failed otherwise: {line}");
            }
        }
        assert!(wins >= 1, "round {round}: no operator won");
        let after = history(tusk);
        assert_eq!(after.len(), before + wins, "round {round}: {after:?}");
        let last = after.last().expect("history is not empty");
        let current = rt
            .block_on(catalog.current(DOMAIN))
            .expect("read CURRENT")
            .expect("a CURRENT");
        assert_eq!(current.version, last["version"].as_str().unwrap_or(""));
        assert_eq!(Some(current.seq), last["seq"].as_u64(), "{last}");
        eprintln!("round {round}: {wins} of 6 moves won on {url}");
    }
}

/// Concurrent activate/rollback processes never corrupt the pointer on S3.
#[test]
fn s3_concurrent_pointer_moves_keep_history_and_current_consistent() {
    let s3 = S3::start("moves");
    let tmp = tempfile::tempdir().expect("tempdir");
    // Default timeouts: a slow answer on a loaded machine must not turn into a
    // failure that is not a conflict.
    concurrent_pointer_moves(&s3.tusk, &s3.plain_url(), &s3.catalog(), tmp.path(), 3);
}

/// The same on the local-directory store.
#[test]
fn local_concurrent_pointer_moves_keep_history_and_current_consistent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let url = root.to_str().expect("utf-8 path").to_string();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).expect("work dir");
    std::fs::create_dir(&root).expect("store dir");
    let catalog = Catalog::open(&url).expect("open the local store");
    concurrent_pointer_moves(&Tusk::default(), &url, &catalog, &work, 3);
}

/// A bucket that does not exist, and credentials S3 does not know: the command fails
/// at once with one line naming the bucket and the cause.
#[test]
fn s3_missing_bucket_and_unknown_credentials_are_named() {
    let moto = MotoServer::start();
    let url = "s3://no-such-bucket/x?attempt_timeout=2s&retry_deadline=5s";
    let out = Tusk::with_env(&moto.env()).run(&["versions", "--store", url, "--domain", DOMAIN]);
    assert!(!out.status.success(), "no bucket, no listing");
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    assert!(
        line.contains("bucket \"no-such-bucket\" does not exist"),
        "{line}"
    );
    assert!(line.contains(&moto.endpoint()), "{line}");
    drop(moto);

    let moto = MotoServer::start_with_auth(&[BUCKET]);
    let mut env = moto.env();
    for (name, value) in &mut env {
        if name == "AWS_ACCESS_KEY_ID" {
            *value = "AKIABOGUSBOGUSBOGUS0".to_string();
        }
    }
    let url = format!("s3://{BUCKET}/x?attempt_timeout=2s&retry_deadline=5s");
    let out = Tusk::with_env(&env).run(&["versions", "--store", &url, "--domain", DOMAIN]);
    assert!(!out.status.success(), "unknown key, no listing");
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    eprintln!("unknown access key: {line}");
    assert!(line.contains(&format!("bucket \"{BUCKET}\"")), "{line}");
    assert!(line.contains("InvalidAccessKeyId"), "{line}");
    assert!(line.contains("AWS_ACCESS_KEY_ID"), "{line}");
    assert!(line.contains(&moto.endpoint()), "{line}");
}
