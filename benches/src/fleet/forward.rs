//! `forward`: a fleet of two in-process nodes with replication 1 (each holds
//! about half the shards). Gets sent to node A for keys A holds (answered
//! directly) against Gets sent to A for keys only B holds (A forwards them).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tusk_format::partition::shard_for;
use tusk_server::config::{ClusterConfig, DEFAULT_FORWARD_TIMEOUT};
use tusk_server::{RunningServer, Server};

use super::error::{FleetError, FleetResult};
use super::load::closed_loop;
use super::node::{self, KEYS, KeySet, SHARDS};
use super::report::{Row, ScenarioReport};
use super::stats::{Want, ratio, verdict};
use super::version::DOMAIN;
use crate::data::key;

/// `n` free ports on 127.0.0.1 (bound together, read, released).
fn free_addrs(n: usize) -> FleetResult<Vec<SocketAddr>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FleetError::setup("forward", format!("binding 127.0.0.1:0: {e}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FleetError::setup("forward", format!("reading a bound address: {e}")))
}

/// The indexes of the keys whose shard is (`held`) or is not in `shards`.
pub fn split_keys(keys: usize, shard_count: u32, shards: &[u32]) -> (Vec<u64>, Vec<u64>) {
    (0..keys as u64).partition(|&i| shards.contains(&shard_for(&key(i), shard_count)))
}

/// Runs the scenario: direct Gets, then forwarded Gets, each for `duration`.
pub async fn run(duration: Duration, parent: &Path) -> FleetResult<ScenarioReport> {
    let (dir, catalog) = node::store_with_v1(parent).await?;
    let addrs = free_addrs(2)?;
    let names: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let mut servers: Vec<RunningServer> = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let mut config = node::node_config(
            &catalog,
            &dir.path().join(format!("data-{i}")),
            Duration::from_secs(5),
        );
        config.listen = *addr;
        config.cluster = Some(ClusterConfig {
            nodes: names.clone(),
            self_node: names[i].clone(),
            replication: 1,
            forward_timeout: DEFAULT_FORWARD_TIMEOUT,
            tls_ca: None,
        });
        match Server::start(config).await {
            Ok(server) => servers.push(server),
            Err(source) => {
                shutdown(servers).await;
                return Err(FleetError::Server {
                    scenario: "forward",
                    source: Box::new(source),
                });
            }
        }
    }
    let measured = async {
        // Both nodes are up: each answers every key once both serve v1.
        let mut clients = Vec::new();
        for addr in &addrs {
            let nodes = node::connections("forward", *addr).await?;
            held_shards(&nodes[0]).await?;
            clients.push(nodes);
        }
        measure(duration, &clients[0]).await
    }
    .await;
    shutdown(servers).await;
    let (direct, forwarded, held) = measured?;

    let (d, f) = (direct.summary(), forwarded.summary());
    let p50 = ratio(Some(f.p50_us as f64), Some(d.p50_us as f64));
    let p99 = ratio(Some(f.p99_us as f64), Some(d.p99_us as f64));
    Ok(ScenarioReport {
        name: "forward",
        setup: format!(
            "2 in-process nodes, replication 1, {KEYS} keys in {SHARDS} shards (node A holds {held}), Gets to A, {} tasks over {} connections, {:.0} s each",
            node::TASKS,
            node::CONNECTIONS,
            duration.as_secs_f64()
        ),
        rows: vec![
            Row::of("direct (A holds the key)", &direct),
            Row::of("forwarded (A -> B)", &forwarded),
        ],
        ratio_what: "forwarded p50 / direct p50".into(),
        ratio: p50,
        want: Want::NoTarget,
        verdict: verdict(p50, Want::NoTarget, true),
        details: vec![format!(
            "forwarded / direct: p99 {}, rps {}; errors {} + {}",
            p99.map_or_else(|| "n/a".into(), |x| format!("{x:.2}")),
            ratio(Some(forwarded.rps()), Some(direct.rps()))
                .map_or_else(|| "n/a".into(), |x| format!("{x:.2}")),
            direct.errors,
            forwarded.errors
        )],
    })
}

async fn shutdown(servers: Vec<RunningServer>) {
    for s in servers {
        s.shutdown().await;
    }
}

/// The shards of `v1` the node holds, once it serves `v1` itself (a Get could be
/// answered by forwarding before that); waits at most a minute.
async fn held_shards(node: &tusk_client::Node) -> FleetResult<Vec<u32>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(topology) = node.topology().await
            && let Some(v) = topology
                .domains
                .iter()
                .find(|d| d.name == DOMAIN)
                .and_then(|d| d.versions.first())
            && v.version == "v1"
        {
            return Ok(v.shards.clone());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(FleetError::setup(
                "forward",
                "a node did not serve v1 within 60 s",
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Splits the keys by what node A (`a`) holds and loads A with each half.
async fn measure(
    duration: Duration,
    a: &[tusk_client::Node],
) -> FleetResult<(super::load::LoadRun, super::load::LoadRun, usize)> {
    let held = held_shards(&a[0]).await?;
    let (mine, theirs) = split_keys(KEYS, SHARDS, &held);
    if mine.is_empty() || theirs.is_empty() {
        return Err(FleetError::setup(
            "forward",
            format!("node A holds shards {held:?}: one side has no keys"),
        ));
    }
    let direct = closed_loop(
        node::load(duration),
        node::tusk_get(a.to_vec(), KeySet::Only(Arc::new(mine))),
    )
    .await;
    let forwarded = closed_loop(
        node::load(duration),
        node::tusk_get(a.to_vec(), KeySet::Only(Arc::new(theirs))),
    )
    .await;
    Ok((direct, forwarded, held.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_by_the_shards_held() {
        let (mine, theirs) = split_keys(1000, 8, &[0, 3, 5]);
        assert_eq!(mine.len() + theirs.len(), 1000);
        assert!(
            mine.iter()
                .all(|&i| [0, 3, 5].contains(&shard_for(&key(i), 8)))
        );
        assert!(
            theirs
                .iter()
                .all(|&i| ![0, 3, 5].contains(&shard_for(&key(i), 8)))
        );
        assert!(!mine.is_empty() && !theirs.is_empty());
    }
}
