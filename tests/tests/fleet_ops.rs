//! The fleet under an operator's hands, with real `tusk serve` processes: a plain
//! gRPC client reading every key from any one node (forwarding), a rollback under
//! load, a rollback while the fleet still downloads the bad version, and growing
//! the fleet by a rolling restart under load.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tusk_client::{Client, Node};
use tusk_tests::fleet::{LocalFleet, key, publish_records, publish_tagged, value};
use tusk_tests::{Tusk, runtime, wait_for};

const DOMAIN: &str = "pages";
const KEYS: usize = 1500;
const SHARDS: u32 = 12;
const WAIT: Duration = Duration::from_secs(60);

/// Version id -> the tag its values carry, for checking answers.
type Tags = Arc<Mutex<BTreeMap<String, String>>>;

/// What a reader loop saw.
#[derive(Debug, Default)]
struct ReadLog {
    reads: u64,
    failures: Vec<String>,
    /// Answers whose values do not all belong to the version they name.
    mixed: Vec<String>,
    versions: BTreeSet<String>,
}

/// Reads through the routing client (seeded with `seeds`) until `stop`: a Get and a
/// MultiGet of 100 keys spread over every shard, in turn. Bounded by `limit`.
fn read_loop(seeds: Vec<String>, tags: Tags, stop: Arc<AtomicBool>) -> JoinHandle<ReadLog> {
    std::thread::spawn(move || {
        let rt = runtime();
        rt.block_on(async move {
            let client = Client::builder().seeds(seeds).build().expect("seeds");
            let mut log = ReadLog::default();
            let started = Instant::now();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                n += 1;
                let first = (n * 37) % KEYS;
                let indexes: Vec<usize> = (0..100).map(|j| (first + j * 13) % KEYS).collect();
                let keys: Vec<String> = indexes.iter().map(|&i| key(i)).collect();
                log.reads += 1;
                match client.multi_get(DOMAIN, &keys).await {
                    Ok(got) => {
                        log.versions.insert(got.version.clone());
                        let tag = tags.lock().expect("tags").get(&got.version).cloned();
                        let Some(tag) = tag else {
                            log.mixed.push(format!("unknown version {}", got.version));
                            continue;
                        };
                        for (v, &i) in got.values.iter().zip(&indexes) {
                            if v.as_deref() != Some(value(&tag, i).as_bytes()) {
                                log.mixed
                                    .push(format!("{}: {v:?} in {}", key(i), got.version));
                            }
                        }
                    }
                    Err(e) => log.failures.push(format!("multi_get: {e}")),
                }
                log.reads += 1;
                match client.get(DOMAIN, key(first)).await {
                    Ok(got) => {
                        log.versions.insert(got.version);
                    }
                    Err(e) => log.failures.push(format!("get {}: {e}", key(first))),
                }
            }
            log
        })
    })
}

fn stop_and_check(stop: &AtomicBool, reader: JoinHandle<ReadLog>) -> ReadLog {
    stop.store(true, Ordering::Relaxed);
    let log = reader.join().expect("reader thread");
    assert!(log.reads > 20, "the reader hardly ran: {log:?}");
    assert!(
        log.failures.is_empty(),
        "{} of {} reads failed; first: {:?}",
        log.failures.len(),
        log.reads,
        &log.failures[..log.failures.len().min(5)]
    );
    assert!(
        log.mixed.is_empty(),
        "answers mixing versions: {:?}",
        &log.mixed[..log.mixed.len().min(5)]
    );
    log
}

fn store_arg(store: &Path) -> &str {
    store.to_str().expect("UTF-8 path")
}

/// A fleet of `n` nodes (replication `replication`, `extra` settings) serving v1.
struct Setup {
    dir: tempfile::TempDir,
    store: std::path::PathBuf,
    fleet: LocalFleet,
    v1: String,
}

fn setup(n: usize, replication: usize, extra: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).expect("store dir");
    let v1 = publish_tagged(dir.path(), &store, DOMAIN, "v1", KEYS, SHARDS);
    let fleet = LocalFleet::start_with(dir.path(), &store, &[DOMAIN], n, replication, extra);
    fleet.wait_serving(DOMAIN, &v1, WAIT);
    Setup {
        dir,
        store,
        fleet,
        v1,
    }
}

#[test]
fn a_plain_grpc_client_gets_every_key_from_any_one_node() {
    // Replication 1: each node holds a third of the shards and forwards the rest.
    // `_dir` holds the store and the nodes' data until the end.
    let Setup {
        dir: _dir,
        fleet,
        v1,
        ..
    } = setup(3, 1, "");
    let rt = runtime();
    for i in 0..fleet.len() {
        let held = fleet.topology(i).expect("topology").domains[0].versions[0]
            .shards
            .len();
        assert!(
            held < SHARDS as usize,
            "node {i} holds {held} of {SHARDS} shards"
        );
        rt.block_on(async {
            let node = Node::connect(&fleet.addrs()[i]).await.expect("connect");
            for k in (0..KEYS).step_by(5) {
                let got = node
                    .get(DOMAIN, key(k).as_bytes(), None)
                    .await
                    .expect("get");
                assert!(got.found, "{} through node {i}", key(k));
                assert_eq!(
                    got.value,
                    value("v1", k).as_bytes(),
                    "{} through node {i}",
                    key(k)
                );
            }
            // One MultiGet spanning every node, plus a key that is nowhere.
            let mut keys: Vec<Vec<u8>> = (0..KEYS).map(|k| key(k).into_bytes()).collect();
            keys.push(b"absent".to_vec());
            let answer = node.multi_get(DOMAIN, keys, None).await.expect("multi_get");
            assert_eq!(answer.version, v1);
            for (k, entry) in answer.entries[..KEYS].iter().enumerate() {
                assert_eq!(
                    entry.value,
                    value("v1", k).as_bytes(),
                    "{} via node {i}",
                    key(k)
                );
            }
            assert!(!answer.entries[KEYS].found);
        });
        assert!(
            fleet.node(i).log().contains("tusk server started"),
            "node {i} logged its start"
        );
    }
}

#[test]
fn a_rollback_under_load_keeps_every_read_whole() {
    let Setup {
        dir,
        store,
        fleet,
        v1,
    } = setup(3, 2, "");
    let v2 = publish_tagged(dir.path(), &store, DOMAIN, "v2", KEYS, SHARDS);
    fleet.wait_serving(DOMAIN, &v2, WAIT);

    let tags: Tags = Arc::new(Mutex::new(BTreeMap::from([
        (v1.clone(), "v1".to_string()),
        (v2.clone(), "v2".to_string()),
    ])));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = read_loop(fleet.addrs(), tags, Arc::clone(&stop));
    std::thread::sleep(Duration::from_millis(500));
    Tusk::default().ok(&["rollback", "--store", store_arg(&store), "--domain", DOMAIN]);
    fleet.wait_serving(DOMAIN, &v1, WAIT);
    std::thread::sleep(Duration::from_millis(500));
    let log = stop_and_check(&stop, reader);
    assert!(
        log.versions.contains(&v1) && log.versions.contains(&v2),
        "{:?}",
        log.versions
    );
}

#[test]
fn a_rollback_while_the_fleet_downloads_the_bad_version_never_serves_it() {
    // Downloads crawl (256 KiB/s per node), so the bad version takes seconds to
    // arrive: long enough to roll back in the middle.
    let Setup {
        dir,
        store,
        fleet,
        v1,
    } = setup(
        3,
        2,
        "download_rate_limit = \"256KiB\"\ndownload_chunk_size = \"16KiB\"",
    );

    let tags: Tags = Arc::new(Mutex::new(BTreeMap::from([(v1.clone(), "v1".to_string())])));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = read_loop(fleet.addrs(), Arc::clone(&tags), Arc::clone(&stop));

    // The bad version: 1.5 MB of values, about 1 MB (4 s) for each node to fetch.
    let padding = "x".repeat(1000);
    let records: Vec<(String, String)> = (0..KEYS)
        .map(|i| (key(i), format!("{}{padding}", value("bad", i))))
        .collect();
    let bad = publish_records(dir.path(), &store, DOMAIN, "bad", &records, SHARDS);
    // Let the fleet start downloading it, then roll back.
    let started = format!("downloading version domain={DOMAIN} version={bad}");
    wait_for("a node to start downloading the bad version", WAIT, || {
        (0..fleet.len()).find(|&i| fleet.node(i).log().contains(&started))
    });
    Tusk::default().ok(&["rollback", "--store", store_arg(&store), "--domain", DOMAIN]);
    let rolled_back_at = Instant::now();

    // Keep reading for as long as the downloads would have taken, and then some.
    while rolled_back_at.elapsed() < Duration::from_secs(6) {
        for i in 0..fleet.len() {
            let t = fleet.topology(i).expect("topology");
            let held: Vec<&str> = t.domains[0]
                .versions
                .iter()
                .map(|v| v.version.as_str())
                .collect();
            assert!(
                !held.contains(&bad.as_str()),
                "node {i} holds the bad version: {held:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = stop_and_check(&stop, reader);
    assert_eq!(
        log.versions,
        BTreeSet::from([v1.clone()]),
        "only v1 ever answered"
    );
    let abandoned = (0..fleet.len())
        .filter(|&i| fleet.node(i).log().contains("abandoning the download"))
        .count();
    assert!(
        abandoned > 0,
        "some node abandoned the bad download; node 0 logged:\n{}",
        fleet.node(0).log()
    );
}

#[test]
fn growing_the_fleet_by_a_rolling_restart_loses_no_read() {
    let Setup {
        dir: _dir,
        mut fleet,
        v1,
        ..
    } = setup(3, 2, "");
    let tags: Tags = Arc::new(Mutex::new(BTreeMap::from([(v1.clone(), "v1".to_string())])));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = read_loop(fleet.addrs(), tags, Arc::clone(&stop));

    // A fourth node joins with the new list; then each old node restarts onto it.
    let new = fleet.grow();
    fleet.wait_serving(DOMAIN, &v1, WAIT);
    for i in 0..new {
        fleet.restart(i);
        fleet.wait_serving(DOMAIN, &v1, WAIT);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop_and_check(&stop, reader);

    let topologies: Vec<_> = (0..fleet.len())
        .map(|i| fleet.topology(i).expect("topology"))
        .collect();
    let fingerprints: BTreeSet<&str> = topologies.iter().map(|t| t.fingerprint.as_str()).collect();
    assert_eq!(fingerprints.len(), 1, "every node agrees on the fleet");
    assert_eq!(topologies[0].nodes.len(), 4);
    assert!(
        !topologies[new].domains[0].versions[0].shards.is_empty(),
        "the new node holds shards"
    );
}

#[test]
fn the_routing_client_splits_a_multi_get_to_the_fleets_max_batch() {
    let Setup {
        dir: _dir,
        fleet,
        v1,
        ..
    } = setup(2, 1, "max_batch = 100");
    let keys: Vec<String> = (0..KEYS).map(key).collect();
    runtime().block_on(async {
        let plain = Client::builder()
            .seeds(fleet.addrs())
            .build()
            .expect("seeds");
        let err = plain
            .multi_get(DOMAIN, &keys)
            .await
            .expect_err("parts over 100 keys");
        assert_eq!(err.code(), tusk_client::Code::InvalidArgument, "{err}");
        let split = Client::builder()
            .seeds(fleet.addrs())
            .max_batch(100)
            .build()
            .expect("seeds");
        let got = split
            .multi_get(DOMAIN, &keys)
            .await
            .expect("split into parts");
        assert_eq!(got.version, v1);
        for (i, v) in got.values.iter().enumerate() {
            assert_eq!(v.as_deref(), Some(value("v1", i).as_bytes()), "{}", key(i));
        }
    });
}
