//! The server's loader over real `tusk serve`, `tusk write` and `tusk rollback`
//! processes on a local-directory store: a restarted node serves what it has while it
//! downloads, a vanished store is reported while serving goes on, a rollback during a
//! slow download is never undone by that download, a damaged local copy is fetched
//! again at once, and the scrubber finds and heals a shard damaged in place.

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tusk_client::{Node, ServingStatus};
use tusk_tests::{ServerProcess, Tusk, runtime, wait_for_async, write_tsv};

const DOMAIN: &str = "pages";
/// Keys of every small version.
const KEYS: usize = 400;
/// Download rate of the "slow" servers: a 2 MiB version takes about 4 s.
const SLOW_RATE: &str = "512KiB";

/// `<tag-00042>`: a value that names its version and key, and is unique in a shard.
fn value(tag: &str, i: usize) -> String {
    format!("<{tag}-{i:05}>")
}

fn key(i: usize) -> String {
    format!("key-{i:05}")
}

/// A store, a data dir and the `tusk` runner, in one temp dir.
struct Env {
    tmp: tempfile::TempDir,
    tusk: Tusk,
}

impl Env {
    fn new() -> Env {
        Env {
            tmp: tempfile::tempdir().expect("temp dir"),
            tusk: Tusk::default(),
        }
    }

    fn store(&self) -> PathBuf {
        self.tmp.path().join("store")
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn store_arg(&self) -> String {
        self.store().to_str().expect("UTF-8 temp path").to_string()
    }

    /// `tusk write` of `keys` records tagged `tag`, padded to `pad` bytes per value;
    /// returns the new (activated) version id.
    fn write(&self, tag: &str, keys: usize, pad: usize) -> String {
        self.write_with(tag, keys, pad, &[])
    }

    /// Like `write`, with `extra` flags for `tusk write`.
    fn write_with(&self, tag: &str, keys: usize, pad: usize, extra: &[&str]) -> String {
        let input = self.tmp.path().join(format!("{tag}.tsv"));
        let records: Vec<(String, String)> = (0..keys)
            .map(|i| (key(i), format!("{}{}", value(tag, i), ".".repeat(pad))))
            .collect();
        write_tsv(&input, &records);
        let store = self.store_arg();
        let mut args = vec![
            "write",
            "--store",
            &store,
            "--domain",
            DOMAIN,
            "--format",
            "tsv",
            "--input",
            input.to_str().expect("UTF-8 temp path"),
            "--shards",
            "2",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = self.tusk.ok(&args);
        let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON summary");
        summary["version"].as_str().expect("version id").to_string()
    }

    /// A config file for one node; `extra` lines go before the domain table.
    fn config(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.tmp.path().join(format!("{name}.toml"));
        let text = format!(
            "listen = \"127.0.0.1:0\"\n\
             data_dir = \"{}\"\n\
             poll_interval = \"100ms\"\n\
             download_chunk_size = \"64KiB\"\n\
             {extra}\n\
             [[domains]]\n\
             name = \"{DOMAIN}\"\n\
             store = \"{}\"\n",
            self.data().display(),
            self.store().display()
        );
        std::fs::write(&path, text).expect("write the config");
        path
    }

    fn serve(&self, config: &Path, log: &str) -> ServerProcess {
        ServerProcess::start(
            &["--config", config.to_str().expect("UTF-8 temp path")],
            &self.tmp.path().join(log),
        )
    }

    /// `<data>/pages/<version>/shard-0000N.tsk` holding `needle`, and its offset.
    fn local_file_with(&self, version: &str, needle: &str) -> (PathBuf, u64) {
        let dir = self.data().join(DOMAIN).join(version);
        for entry in std::fs::read_dir(&dir).expect("local version dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "tsk") {
                continue;
            }
            let bytes = std::fs::read(&path).expect("read local shard");
            if let Some(pos) = bytes
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
            {
                return (path, pos as u64);
            }
        }
        panic!("{needle} is in no shard of {}", dir.display());
    }
}

async fn client(server: &ServerProcess) -> Node {
    Node::connect(&server.server_arg()).await.expect("connect")
}

/// The version answering a Get of key 0 right now, if any.
async fn served(client: &Node) -> Option<String> {
    client
        .get(DOMAIN, key(0).as_bytes(), None)
        .await
        .ok()
        .map(|r| r.version.into())
}

/// Waits (at most `secs` seconds) until the node answers with `version`.
async fn wait_served(c: &Node, version: &str, secs: u64) {
    let what = format!("{version} served");
    wait_for_async(&what, secs, || served(c), |v| v.as_deref() == Some(version)).await;
}

/// Reads the first `keys` keys with one MultiGet: `Ok(version)` when every value is
/// `tag`'s, else a description of what is wrong.
async fn read_all(client: &Node, tag: &str, keys: usize) -> Result<String, String> {
    let wanted: Vec<Vec<u8>> = (0..keys).map(|i| key(i).into_bytes()).collect();
    let reply = client
        .multi_get(DOMAIN, wanted, None)
        .await
        .map_err(|e| e.to_string())?;
    for (i, entry) in reply.entries.iter().enumerate() {
        let text = String::from_utf8_lossy(&entry.value);
        if !entry.found || !text.starts_with(&value(tag, i)) {
            return Err(format!("{}: found {} value {text:?}", key(i), entry.found));
        }
    }
    Ok(reply.version.into())
}

async fn domain_status(client: &Node) -> tusk_client::DomainStatus {
    client
        .status()
        .await
        .expect("status")
        .domains
        .into_iter()
        .next()
        .expect("one domain")
}

#[test]
fn a_restarted_node_serves_its_local_version_while_it_downloads_current() {
    let env = Env::new();
    let rt = runtime();
    let v1 = env.write("v1", KEYS, 0);
    let config = env.config("node", &format!("download_rate_limit = \"{SLOW_RATE}\""));
    let server = env.serve(&config, "first.log");
    rt.block_on(async {
        let c = client(&server).await;
        wait_served(&c, &v1, 20).await;
    });
    assert!(server.terminate(), "clean exit");

    // v2 is ~2 MiB: about 4 s at the server's download rate.
    let v2 = env.write("v2", 2000, 1000);
    let server = env.serve(&config, "second.log");
    rt.block_on(async {
        let c = client(&server).await;
        let first = wait_for_async("something served", 20, || served(&c), Option::is_some).await;
        assert_eq!(
            first.as_deref(),
            Some(v1.as_str()),
            "the local version answers while v2 downloads"
        );
        assert_eq!(
            c.health(DOMAIN).await.expect("health"),
            ServingStatus::Serving
        );
        let d = domain_status(&c).await;
        assert_eq!(d.store_current_version, v2, "{d:?}");
        assert_eq!(read_all(&c, "v1", KEYS).await, Ok(v1.clone()));
        wait_served(&c, &v2, 60).await;
        assert_eq!(read_all(&c, "v2", 2000).await, Ok(v2.clone()));
    });
    assert!(server.terminate());
}

#[test]
fn a_deleted_store_root_is_an_error_while_the_node_keeps_serving() {
    let env = Env::new();
    let rt = runtime();
    let v1 = env.write("v1", KEYS, 0);
    let config = env.config("node", "");
    let server = env.serve(&config, "first.log");
    rt.block_on(async {
        let c = client(&server).await;
        wait_served(&c, &v1, 20).await;
        std::fs::remove_dir_all(env.store()).expect("delete the store root");
        let d = wait_for_async(
            "status to report the store",
            20,
            || domain_status(&c),
            |d| !d.last_error.is_empty(),
        )
        .await;
        assert!(d.last_error.contains("CURRENT"), "{d:?}");
        assert_eq!(read_all(&c, "v1", KEYS).await, Ok(v1.clone()));
    });
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("CURRENT")),
        "a warning names the problem:\n{log}"
    );
    assert!(server.terminate());

    // Restarted with the store still gone: the local copy serves, the error shows.
    let server = env.serve(&config, "second.log");
    rt.block_on(async {
        let c = client(&server).await;
        wait_served(&c, &v1, 20).await;
        assert_eq!(read_all(&c, "v1", KEYS).await, Ok(v1.clone()));
        let d = wait_for_async(
            "status to report the store",
            20,
            || domain_status(&c),
            |d| !d.last_error.is_empty(),
        )
        .await;
        assert_eq!(d.current_version, v1, "{d:?}");
    });
    assert!(server.terminate());
}

#[test]
fn a_rollback_during_a_slow_download_is_never_undone_by_it() {
    let env = Env::new();
    let rt = runtime();
    let v1 = env.write("v1", KEYS, 0);
    let config = env.config("node", &format!("download_rate_limit = \"{SLOW_RATE}\""));
    let server = env.serve(&config, "node.log");
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let c = client(&server).await;
        wait_served(&c, &v1, 20).await;
    });
    // Record every version that answers, from now to the end.
    let reader = {
        let (seen, stop, addr) = (seen.clone(), stop.clone(), server.server_arg());
        rt.spawn(async move {
            let c = Node::connect(&addr).await.expect("connect");
            while !stop.load(Ordering::Relaxed) {
                if let Some(v) = served(&c).await {
                    let mut seen = seen.lock().expect("lock");
                    if seen.last() != Some(&v) {
                        seen.push(v);
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let v2 = env.write("v2", 2000, 1000);
    rt.block_on(async {
        let c = client(&server).await;
        wait_for_async(
            "the node to start on v2",
            20,
            || domain_status(&c),
            |d| d.store_current_version == v2,
        )
        .await;
    });
    env.tusk.ok(&[
        "rollback",
        "--store",
        &env.store_arg(),
        "--domain",
        DOMAIN,
        "--reason",
        "bad v2",
    ]);
    // A third version after the rollback: once it is served the node has moved on.
    let v3 = env.write("v3", KEYS, 0);
    rt.block_on(async {
        let c = client(&server).await;
        wait_served(&c, &v3, 60).await;
        assert_eq!(read_all(&c, "v3", KEYS).await, Ok(v3.clone()));
        // Let the reader record v3 too before it stops (it polls every 10 ms).
        for _ in 0..500 {
            if seen.lock().expect("lock").last() == Some(&v3) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    stop.store(true, Ordering::Relaxed);
    rt.block_on(reader).expect("reader");
    let seen = seen.lock().expect("lock").clone();
    assert!(
        !seen.contains(&v2),
        "the rolled-back version was served: {seen:?}"
    );
    assert_eq!(seen.first(), Some(&v1), "{seen:?}");
    assert_eq!(seen.last(), Some(&v3), "{seen:?}");
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("abandon") && l.contains(&v2)),
        "the log says the download of v2 was abandoned:\n{log}"
    );
    assert!(server.terminate());
}

#[test]
fn a_corrupt_local_copy_is_fetched_again_at_once() {
    let env = Env::new();
    let rt = runtime();
    let v1 = env.write("v1", KEYS, 0);
    // A long retry wait: only an immediate refetch can pass this test.
    let config = env.config("node", "retry_failed_after = \"1h\"");
    let server = env.serve(&config, "first.log");
    rt.block_on(async {
        let c = client(&server).await;
        wait_served(&c, &v1, 20).await;
    });
    assert!(server.terminate());

    // The local copy of one shard loses its last bytes while the node is down.
    let (path, _) = env.local_file_with(&v1, &value("v1", 7));
    let len = std::fs::metadata(&path).expect("stat").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(len - 10)
        .expect("truncate");

    let server = env.serve(&config, "second.log");
    rt.block_on(async {
        let c = client(&server).await;
        let healed = wait_for_async(
            "v1 served again",
            20,
            || read_all(&c, "v1", KEYS),
            |r| r.as_deref() == Ok(&*v1),
        )
        .await;
        assert_eq!(healed, Ok(v1.clone()));
    });
    assert_eq!(std::fs::metadata(&path).expect("stat").len(), len);
    let log = server.log();
    assert!(
        log.contains(path.file_name().unwrap().to_str().unwrap()),
        "the log names the damaged file:\n{log}"
    );
    assert!(server.terminate());
}

#[test]
fn a_shard_damaged_in_place_is_found_by_the_scrubber_and_healed() {
    let env = Env::new();
    let rt = runtime();
    let v1 = env.write("v1", KEYS, 0);
    let config = env.config("node", "scrub_interval = \"200ms\"\nscrub_rate = \"16MiB\"");
    let server = env.serve(&config, "node.log");
    rt.block_on(async {
        let c = client(&server).await;
        wait_served(&c, &v1, 20).await;
    });
    let (path, offset) = env.local_file_with(&v1, &value("v1", 7));
    let inode = std::fs::metadata(&path).expect("stat").ino();
    let object = path.file_name().unwrap().to_str().unwrap().to_string();
    // Overwrite bytes of a served file in place (no read touches them).
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open for write");
    file.write_all_at(b"XXXX", offset + 1).expect("damage");
    drop(file);

    rt.block_on(async {
        let c = client(&server).await;
        let d = wait_for_async(
            "the status to name the repaired shard",
            20,
            || domain_status(&c),
            |d| d.note.contains(&object) && d.note.contains("repaired"),
        )
        .await;
        assert_eq!(d.current_version, v1, "{d:?}");
        assert_eq!(read_all(&c, "v1", KEYS).await, Ok(v1.clone()));
    });
    assert_ne!(
        std::fs::metadata(&path).expect("stat").ino(),
        inode,
        "healed into a new file, not rewritten in place"
    );
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains(&object)),
        "a warning names the damaged shard:\n{log}"
    );
    assert!(server.terminate());
}

/// Format 1: damaged value bytes fail the record's CRC on the read.
#[test]
fn a_read_that_hits_damage_wakes_the_scrubber_which_heals_the_shard() {
    read_hits_damage("tusk-native-v1", |value_at| {
        (value_at + 1, b"XXXX".to_vec())
    });
}

/// Format 2: a damaged value length (10 becomes 11) fails the record check in the
/// index slot on the read.
#[test]
fn a_v2_read_that_hits_a_damaged_length_wakes_the_scrubber_which_heals_the_shard() {
    // The length bytes (9 and 10) come right before the 9-byte key.
    read_hits_damage("tusk-native-v2", |value_at| (value_at - 10, vec![11]));
}

/// Writes a version in `format`, damages the record of key 7 in the node's local
/// file (`damage` of its value's offset: where, and the bytes written there), and
/// checks a read fails, then the scrubber heals the shard.
fn read_hits_damage(format: &str, damage: impl Fn(u64) -> (u64, Vec<u8>)) {
    let env = Env::new();
    let rt = runtime();
    let v1 = env.write_with("v1", KEYS, 0, &["--shard-format", format]);
    // Default scrub interval: no round comes during the test.
    let config = env.config("node", "");
    let server = env.serve(&config, "node.log");
    rt.block_on(async {
        let c = client(&server).await;
        wait_served(&c, &v1, 20).await;
        assert_eq!(read_all(&c, "v1", KEYS).await, Ok(v1.clone()));
    });
    let (path, offset) = env.local_file_with(&v1, &value("v1", 7));
    let (at, bytes) = damage(offset);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open for write");
    file.write_all_at(&bytes, at).expect("damage");
    drop(file);

    rt.block_on(async {
        let c = client(&server).await;
        let err = read_all(&c, "v1", KEYS)
            .await
            .expect_err("a damaged record");
        assert!(err.contains("Internal") || err.contains("corrupt"), "{err}");
        let healed = wait_for_async(
            "every key answered correctly again",
            20,
            || read_all(&c, "v1", KEYS),
            |r| r.as_deref() == Ok(&*v1),
        )
        .await;
        assert_eq!(healed, Ok(v1.clone()));
    });
    assert!(server.terminate());
}
