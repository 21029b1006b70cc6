//! A fleet of in-process nodes on real sockets: each holds only its shards, says
//! so in Topology, and answers every key by forwarding the others.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tempfile::TempDir;
use tusk_client::{Code, Node};
use tusk_server::config::ClusterConfig;
use tusk_server::{RunningServer, Server};

use crate::common::{Fixture, eventually, records};
use crate::metrics::scrape;

const DOMAIN: &str = "pages";
const SHARDS: u32 = 12;

/// `n` free ports on 127.0.0.1 (bound, read, released).
pub fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("addr"))
        .collect()
}

/// `n` free addresses whose placement gives every node a strict share of
/// `domain`'s `shards` shards at `replication`: some, never all.
///
/// Node names are the addresses, so placement changes with the ports a run gets;
/// with a few shards a node can by chance hold all of them (12 shards, 3 nodes,
/// replication 2: about one run in fifty), and a test about forwarding would
/// have nothing to forward. Ports are drawn again until the spread is real.
pub fn spread_addrs(domain: &str, n: usize, replication: usize, shards: u32) -> Vec<SocketAddr> {
    for _ in 0..100 {
        let addrs = free_addrs(n);
        let names: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        let fleet = tusk_format::placement::Fleet::new(names.clone(), replication).expect("fleet");
        let strict = names.iter().all(|name| {
            let held = tusk_format::placement::shards_of(&fleet, domain, shards, name).len();
            held > 0 && held < shards as usize
        });
        if strict {
            return addrs;
        }
    }
    panic!("no draw of {n} ports gave every node a strict share of {shards} shards");
}

struct Fleet {
    nodes: Vec<Option<RunningServer>>,
    clients: Vec<Node>,
    addrs: Vec<SocketAddr>,
    _data: Vec<TempDir>,
}

/// Starts `n` nodes over `fixture`'s store with replication `replication`.
async fn start_fleet(fixture: &Fixture, n: usize, replication: usize) -> Fleet {
    start_fleet_with(fixture, n, replication, |_, _| {}).await
}

/// Like `start_fleet`, letting `tweak(i, config)` change node `i`'s config.
async fn start_fleet_with(
    fixture: &Fixture,
    n: usize,
    replication: usize,
    tweak: impl Fn(usize, &mut tusk_server::ServerConfig),
) -> Fleet {
    let addrs = spread_addrs(DOMAIN, n, replication, SHARDS);
    let names: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let mut nodes = Vec::new();
    let mut clients = Vec::new();
    let mut data = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let dir = tempfile::tempdir().expect("data dir");
        let mut config = node_config(fixture, &names, *addr, dir.path(), replication);
        tweak(i, &mut config);
        let (server, client) = start_node(config).await;
        nodes.push(Some(server));
        clients.push(client);
        data.push(dir);
    }
    Fleet {
        nodes,
        clients,
        addrs,
        _data: data,
    }
}

/// The config of the node at `addr` in a fleet of `names`, keeping its data in `dir`.
fn node_config(
    fixture: &Fixture,
    names: &[String],
    addr: SocketAddr,
    dir: &std::path::Path,
    replication: usize,
) -> tusk_server::ServerConfig {
    let mut config = fixture.config(&[DOMAIN]);
    config.listen = addr;
    config.data_dir = dir.to_path_buf();
    config.metrics_listen = None;
    config.cluster = Some(ClusterConfig {
        nodes: names.to_vec(),
        self_node: addr.to_string(),
        replication,
        forward_timeout: std::time::Duration::from_millis(500),
        tls_ca: None,
    });
    config
}

async fn start_node(config: tusk_server::ServerConfig) -> (RunningServer, Node) {
    let addr = config.listen;
    let server = Server::start(config).await.expect("node starts");
    let client = Node::connect(&addr.to_string()).await.expect("connect");
    (server, client)
}

impl Fleet {
    async fn wait_serving(&self, version: &str) {
        for client in &self.clients {
            eventually(&format!("every node serves {version}"), || async {
                let Ok(topology) = client.topology().await else {
                    return false;
                };
                topology.domains[0]
                    .versions
                    .first()
                    .is_some_and(|v| v.version == version)
            })
            .await;
        }
    }

    async fn stop(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.shutdown().await;
        }
    }

    async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_node_holds_its_share_and_any_node_answers_any_key() {
    let fixture = Fixture::new();
    let data = records("v1", 600);
    fixture.publish(DOMAIN, "v1", &data, SHARDS).await;
    fixture.activate(DOMAIN, "v1").await;
    let fleet = start_fleet_with(&fixture, 3, 2, |_, config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await;
    fleet.wait_serving("v1").await;

    // Topology: every node names the same fleet; each shard on exactly 2 nodes.
    let mut holders: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    let mut fingerprints = Vec::new();
    for (i, client) in fleet.clients.iter().enumerate() {
        let t = client.topology().await.expect("topology");
        assert_eq!(t.replication, 2);
        assert_eq!(t.nodes.len(), 3);
        assert_eq!(t.self_, fleet.addrs[i].to_string());
        fingerprints.push(t.fingerprint.clone());
        let v = &t.domains[0].versions[0];
        assert_eq!((v.version.as_str(), v.shard_count), ("v1", SHARDS));
        assert!(
            v.shards.len() < SHARDS as usize,
            "node {i} holds a share, not all"
        );
        for &s in &v.shards {
            holders.entry(s).or_default().push(i);
        }
        // Only owned shards were downloaded.
        let local = std::fs::read_dir(fleet._data[i].path().join(DOMAIN).join("v1"))
            .expect("version dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tsk"))
            })
            .count();
        assert_eq!(local, v.shards.len(), "node {i}: files on disk");
    }
    assert!(
        fingerprints.windows(2).all(|w| w[0] == w[1]),
        "{fingerprints:?}"
    );
    assert_eq!(holders.len(), SHARDS as usize, "every shard is held");
    assert!(holders.values().all(|h| h.len() == 2), "{holders:?}");

    // Every key through every node: the ones it does not hold are forwarded, and
    // counted as forwarded, one by one.
    for (i, client) in fleet.clients.iter().enumerate() {
        let held =
            |key: &[u8]| holders[&tusk_format::partition::shard_for(key, SHARDS)].contains(&i);
        let mut expect_forwarded = 0;
        for (key, value) in data.iter().step_by(7) {
            expect_forwarded += u64::from(!held(key));
            let got = client.get(DOMAIN, key, None).await.expect("get");
            assert!(got.found, "{}", String::from_utf8_lossy(key));
            assert_eq!(&got.value, value);
            assert_eq!(got.version, "v1");
        }
        // One MultiGet spanning every shard, in key order, plus a missing key.
        let mut keys: Vec<Vec<u8>> = data.iter().take(200).map(|r| r.0.clone()).collect();
        keys.push(b"no-such-key".to_vec());
        let answer = client
            .multi_get(DOMAIN, keys.clone(), None)
            .await
            .expect("multi_get");
        assert_eq!(answer.version, "v1");
        assert_eq!(answer.entries.len(), keys.len());
        for (i, (entry, (_, value))) in answer.entries[..200].iter().zip(&data).enumerate() {
            assert!(entry.found, "key {i} of {}", keys.len());
            assert_eq!(&entry.value, value);
        }
        assert!(!answer.entries.last().expect("last").found);
        expect_forwarded += keys.iter().filter(|k| !held(k)).count() as u64;
        let metrics = fleet.nodes[i]
            .as_ref()
            .and_then(|n| n.metrics_addr())
            .expect("metrics bound");
        let forwarded = scrape(metrics)
            .await
            .value("tusk_forwarded_keys_total", &[("domain", DOMAIN)]);
        assert!(expect_forwarded > 0, "node {i} holds a share only");
        assert_eq!(forwarded, expect_forwarded as f64, "node {i}");
    }
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forwarded_request_fails_over_and_never_loops() {
    let fixture = Fixture::new();
    let data = records("v1", 300);
    fixture.publish(DOMAIN, "v1", &data, SHARDS).await;
    fixture.activate(DOMAIN, "v1").await;
    // Replication 1: each shard on one node only.
    let mut fleet = start_fleet(&fixture, 3, 1).await;
    fleet.wait_serving("v1").await;
    let topology = fleet.clients[0].topology().await.expect("topology");
    let held_by_0 = &topology.domains[0].versions[0].shards;
    let foreign: Vec<&(Vec<u8>, Vec<u8>)> = data
        .iter()
        .filter(|(k, _)| !held_by_0.contains(&tusk_format::partition::shard_for(k, SHARDS)))
        .collect();
    assert!(!foreign.is_empty());

    // A request marked as forwarded is not forwarded again: the node says it does
    // not hold the shard, with the reason a client fails over on.
    let mut request = tonic::Request::new(tusk_proto::v1::GetRequest {
        domain: DOMAIN.into(),
        key: foreign[0].0.clone().into(),
        version: String::new(),
    });
    request
        .metadata_mut()
        .insert(tusk_proto::FORWARDED_HEADER, "1".parse().expect("ascii"));
    let mut raw =
        tusk_proto::v1::tusk_client::TuskClient::connect(format!("http://{}", fleet.addrs[0]))
            .await
            .expect("raw client");
    let status = raw.get(request).await.expect_err("not held, not forwarded");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        status
            .metadata()
            .get(tusk_proto::REASON_HEADER)
            .map(|v| v.to_str().ok()),
        Some(Some(tusk_proto::REASON_SHARD_NOT_HELD))
    );

    // With the only holder of a shard down, the error names who was tried.
    let (key, _) = foreign[0];
    let shard = tusk_format::partition::shard_for(key, SHARDS);
    let holder = (1..3)
        .find(|&i| {
            let names: Vec<String> = fleet.addrs.iter().map(ToString::to_string).collect();
            let f = tusk_format::placement::Fleet::new(names, 1).expect("fleet");
            tusk_format::placement::replicas(&f, DOMAIN, shard) == [i]
        })
        .expect("one holder");
    fleet.stop(holder).await;
    let err = fleet.clients[0]
        .get(DOMAIN, key, None)
        .await
        .expect_err("no replica left");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(
        err.message().contains(&fleet.addrs[holder].to_string()),
        "{err}"
    );
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multi_get_mid_rollout_is_answered_from_one_version() {
    let fixture = Fixture::new();
    fixture
        .publish(DOMAIN, "v1", &records("v1", 300), SHARDS)
        .await;
    fixture.activate(DOMAIN, "v1").await;
    // Node 1 polls slowly, so node 0 serves v2 for a while before node 1 does.
    let fleet = start_fleet_with(&fixture, 2, 1, |i, config| {
        if i == 1 {
            config.poll_interval = std::time::Duration::from_millis(1500);
        }
    })
    .await;
    fleet.wait_serving("v1").await;
    fixture
        .publish(DOMAIN, "v2", &records("v2", 300), SHARDS)
        .await;
    fixture.activate(DOMAIN, "v2").await;
    let keys: Vec<Vec<u8>> = records("x", 300).into_iter().map(|r| r.0).collect();
    let mut seen = Vec::new();
    let mut split_seen = false;
    for round in 0..400 {
        let served: Vec<String> =
            futures::future::join_all(fleet.clients.iter().map(|c| c.topology()))
                .await
                .into_iter()
                .map(|t| t.expect("topology").domains[0].versions[0].version.clone())
                .collect();
        split_seen |= served[0] != served[1];
        for (i, client) in fleet.clients.iter().enumerate() {
            let answer = client
                .multi_get(DOMAIN, keys.clone(), None)
                .await
                .unwrap_or_else(|e| {
                    panic!("round {round}, node {i} (fleet serves {served:?}): {e}")
                });
            let prefix = format!("{}:", answer.version);
            for e in &answer.entries {
                assert!(e.found, "round {round}");
                assert!(
                    e.value.starts_with(prefix.as_bytes()),
                    "round {round}: a {} answer holds {}",
                    answer.version,
                    String::from_utf8_lossy(&e.value)
                );
            }
            seen.push(answer.version);
        }
        if served.iter().all(|v| v == "v2") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(split_seen, "the nodes never served different versions");
    assert_eq!(seen.last().map(|v| v.as_str()), Some("v2"), "{seen:?}");
    fleet.shutdown().await;
}

/// Shard files of `version` in a node's data dir: shard number -> inode.
fn shard_files(dir: &std::path::Path, version: &str) -> BTreeMap<u32, u64> {
    use std::os::unix::fs::MetadataExt;
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join(DOMAIN).join(version)).expect("version dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix("shard-")
            .and_then(|n| n.strip_suffix(".tsk"))
        {
            let inode = entry.metadata().expect("metadata").ino();
            files.insert(n.parse().expect("shard number"), inode);
        }
    }
    files
}

/// Publishes v1, starts a 3-node fleet (replication 1) on it, stops it, and
/// returns v1's records, the data dirs and the addresses.
async fn fleet_of_three_stopped(
    fixture: &Fixture,
) -> (Vec<crate::common::Record>, Vec<TempDir>, Vec<SocketAddr>) {
    let data = records("v1", 400);
    fixture.publish(DOMAIN, "v1", &data, SHARDS).await;
    fixture.activate(DOMAIN, "v1").await;
    let fleet = start_fleet(fixture, 3, 1).await;
    fleet.wait_serving("v1").await;
    let Fleet {
        nodes,
        addrs,
        _data: dirs,
        ..
    } = fleet;
    for node in nodes.into_iter().flatten() {
        node.shutdown().await;
    }
    (data, dirs, addrs)
}

/// A node of a stopped fleet, started again (same address and data) as a member
/// of the fleet `names`.
async fn rejoin(
    fixture: &Fixture,
    names: &[String],
    addr: SocketAddr,
    dir: &TempDir,
) -> (RunningServer, Node) {
    start_node(node_config(fixture, names, addr, dir.path(), 1)).await
}

fn owned(names: &[String], node: &str) -> Vec<u32> {
    let placement = tusk_format::placement::Fleet::new(names.to_vec(), 1).expect("fleet");
    tusk_format::placement::shards_of(&placement, DOMAIN, SHARDS, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_restarted_in_a_smaller_fleet_fetches_only_the_shards_it_gained() {
    let fixture = Fixture::new();
    let (data, dirs, addrs) = fleet_of_three_stopped(&fixture).await;
    let all: Vec<String> = addrs.iter().map(ToString::to_string).collect();

    // One node leaves; of the two that stay, watch one that takes some of its shards.
    let (gone, watched) = (0..3)
        .flat_map(|gone| (0..3).map(move |w| (gone, w)))
        .find(|&(gone, w)| {
            let rest: Vec<String> = (0..3)
                .filter(|&i| i != gone)
                .map(|i| all[i].clone())
                .collect();
            gone != w && owned(&rest, &all[w]).len() > owned(&all, &all[w]).len()
        })
        .expect("a leaving node hands shards to another");
    let other = (0..3)
        .find(|&i| i != gone && i != watched)
        .expect("third node");
    let names: Vec<String> = [watched, other].iter().map(|&i| all[i].clone()).collect();
    let before = shard_files(dirs[watched].path(), "v1");
    assert_eq!(
        before.keys().copied().collect::<Vec<_>>(),
        owned(&all, &all[watched])
    );
    let owned_now = owned(&names, &all[watched]);

    let (node_w, client) = rejoin(&fixture, &names, addrs[watched], &dirs[watched]).await;
    let (node_o, client_o) = rejoin(&fixture, &names, addrs[other], &dirs[other]).await;
    // Both nodes take shards of the one that left: wait for both (the keys of
    // the other's new shards are forwarded to it below).
    for (node, c) in [(watched, &client), (other, &client_o)] {
        let want = owned(&names, &all[node]);
        eventually("each node holds every shard it owns", || async {
            let t = c.topology().await.expect("topology");
            t.domains[0]
                .versions
                .first()
                .is_some_and(|v| v.shards == want)
        })
        .await;
    }
    let after = shard_files(dirs[watched].path(), "v1");
    assert_eq!(after.keys().copied().collect::<Vec<_>>(), owned_now);
    for (shard, inode) in &before {
        assert_eq!(
            after.get(shard),
            Some(inode),
            "shard {shard} was kept, not fetched again"
        );
    }
    for (key, value) in &data {
        let got = client.get(DOMAIN, key, None).await.expect("get");
        assert_eq!(&got.value, value);
    }
    node_w.shutdown().await;
    node_o.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_restarted_in_a_bigger_fleet_answers_for_the_shards_it_gave_up_until_the_next_version()
 {
    let fixture = Fixture::new();
    let (data, dirs, addrs) = fleet_of_three_stopped(&fixture).await;
    let all: Vec<String> = addrs.iter().map(ToString::to_string).collect();

    // A fourth node joins; watch a node that gives shards up to it.
    let (names, watched) = (0..20)
        .find_map(|_| {
            let mut names = all.clone();
            names.push(free_addrs(1)[0].to_string());
            let watched =
                (0..3).find(|&w| owned(&names, &all[w]).len() < owned(&all, &all[w]).len())?;
            Some((names, watched))
        })
        .expect("a new node takes shards from someone");
    let before = shard_files(dirs[watched].path(), "v1");
    let owned_now = owned(&names, &all[watched]);

    // It comes back alone (the others are not up) and still answers every key of
    // the shards it has, including those it no longer owns.
    let (node, client) = rejoin(&fixture, &names, addrs[watched], &dirs[watched]).await;
    eventually("the node serves v1", || async {
        client
            .topology()
            .await
            .is_ok_and(|t| !t.domains[0].versions.is_empty())
    })
    .await;
    let t = client.topology().await.expect("topology");
    assert_eq!(
        t.domains[0].versions[0].shards,
        before.keys().copied().collect::<Vec<_>>()
    );
    for (key, value) in &data {
        if before.contains_key(&tusk_format::partition::shard_for(key, SHARDS)) {
            let got = client.get(DOMAIN, key, None).await.expect("get");
            assert_eq!(&got.value, value);
        }
    }

    // The next version is downloaded under the new topology: exactly the owned shards.
    fixture
        .publish(DOMAIN, "v2", &records("v2", 400), SHARDS)
        .await;
    fixture.activate(DOMAIN, "v2").await;
    eventually("the node serves v2", || async {
        client.topology().await.is_ok_and(|t| {
            t.domains[0]
                .versions
                .first()
                .is_some_and(|v| v.version == "v2")
        })
    })
    .await;
    let t = client.topology().await.expect("topology");
    assert_eq!(t.domains[0].versions[0].shards, owned_now);
    assert_eq!(
        shard_files(dirs[watched].path(), "v2")
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        owned_now
    );
    node.shutdown().await;
}
