//! What the client knows of the fleet: the node list and replication (from any
//! node's Topology answer) and, per node, what it last reported holding.
//!
//! [`Topology`] keeps the current [`View`] and refreshes it on the call path when it
//! is older than `refresh_interval` or was marked stale (after a `shard-not-held`
//! answer): one refresh at a time, and calls that find a refresh under way use the
//! view they have. Nothing runs in the background.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use futures::future::join_all;
use tusk_format::placement::Fleet;
use tusk_proto::v1::TopologyResponse;

use crate::error::Tried;
use crate::{ClientError, Pool};

/// What one node of the fleet last said about itself.
#[derive(Debug, Clone)]
pub struct NodeReport {
    /// The node, as the fleet's node list names it.
    pub node: String,
    /// Its latest Topology answer (kept when a later ask failed; see `error`).
    pub topology: Option<TopologyResponse>,
    /// When `topology` was received.
    pub reported_at: Option<SystemTime>,
    /// Why the latest ask failed; `None` when it answered.
    pub error: Option<String>,
}

impl NodeReport {
    /// The placement fingerprint the node reported, if it ever answered.
    pub fn fingerprint(&self) -> Option<&str> {
        self.topology.as_ref().map(|t| t.fingerprint.as_str())
    }

    /// The answer, when the latest ask succeeded.
    fn fresh(&self) -> Option<&TopologyResponse> {
        match self.error {
            None => self.topology.as_ref(),
            Some(_) => None,
        }
    }
}

/// The fleet as the client sees it, for tools (`Client::topology_snapshot`).
#[derive(Debug, Clone)]
pub struct TopologySnapshot {
    /// The fleet's nodes, as the answering node listed them.
    pub nodes: Vec<String>,
    /// How many nodes hold each shard.
    pub replication: usize,
    /// The placement fingerprint this client computes for `nodes` and
    /// `replication`; a node reporting another one disagrees on who holds what.
    pub fingerprint: String,
    /// When the client last refreshed its view.
    pub refreshed_at: SystemTime,
    /// One report per node, in `nodes` order.
    pub reports: Vec<NodeReport>,
}

/// The fleet and what each node holds, as of one refresh.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub fleet: Fleet,
    /// One report per node of `fleet`, same order.
    pub reports: Vec<NodeReport>,
    pub fetched: Instant,
    pub fetched_at: SystemTime,
}

impl View {
    /// The newest version any node serves (lists first) for `domain`, with its
    /// shard count. Version ids sort by time.
    pub fn newest_version(&self, domain: &str) -> Option<(&str, u32)> {
        self.reports
            .iter()
            .filter_map(|r| domain_of(r.fresh()?, domain)?.versions.first())
            .map(|v| (v.version.as_str(), v.shard_count))
            .max()
    }

    /// The shard count of `version` of `domain`, if a node reported it.
    pub fn shard_count(&self, domain: &str, version: &str) -> Option<u32> {
        self.reports
            .iter()
            .filter_map(|r| domain_of(r.fresh()?, domain))
            .flat_map(|d| d.versions.iter())
            .find(|v| v.version == version)
            .map(|v| v.shard_count)
    }

    /// True when node `index`'s latest answer lists `shard` of `version`.
    pub fn holds(&self, index: usize, domain: &str, version: &str, shard: u32) -> bool {
        self.reports
            .get(index)
            .and_then(NodeReport::fresh)
            .and_then(|t| domain_of(t, domain))
            .and_then(|d| d.versions.iter().find(|v| v.version == version))
            .is_some_and(|v| v.shards.binary_search(&shard).is_ok())
    }

    pub fn snapshot(&self) -> TopologySnapshot {
        TopologySnapshot {
            nodes: self.fleet.nodes().to_vec(),
            replication: self.fleet.replication(),
            fingerprint: self.fleet.fingerprint().to_string(),
            refreshed_at: self.fetched_at,
            reports: self.reports.clone(),
        }
    }
}

fn domain_of<'a>(
    topology: &'a TopologyResponse,
    domain: &str,
) -> Option<&'a tusk_proto::v1::DomainTopology> {
    topology.domains.iter().find(|d| d.name == domain)
}

/// The fleet an answer describes; `None` when its node list is unusable.
pub(crate) fn fleet_of(answer: &TopologyResponse) -> Result<Fleet, String> {
    Fleet::new(answer.nodes.clone(), answer.replication as usize)
        .map_err(|e| format!("unusable Topology answer: {e}"))
}

/// Builds the view of `fleet` from the answers gathered (by node name), keeping a
/// previous report's topology for nodes that failed this time.
pub(crate) fn assemble(
    fleet: Fleet,
    mut answers: HashMap<String, Result<TopologyResponse, String>>,
    previous: Option<&View>,
    now: SystemTime,
) -> View {
    let reports = fleet
        .nodes()
        .iter()
        .map(|node| {
            let before = previous.and_then(|p| p.reports.iter().find(|r| &r.node == node));
            match answers.remove(node) {
                Some(Ok(topology)) => NodeReport {
                    node: node.clone(),
                    topology: Some(topology),
                    reported_at: Some(now),
                    error: None,
                },
                other => NodeReport {
                    node: node.clone(),
                    topology: before.and_then(|b| b.topology.clone()),
                    reported_at: before.and_then(|b| b.reported_at),
                    error: Some(match other {
                        Some(Err(e)) => e,
                        _ => "not asked".to_string(),
                    }),
                },
            }
        })
        .collect();
    View {
        fleet,
        reports,
        fetched: Instant::now(),
        fetched_at: now,
    }
}

/// The client's view of the fleet, refreshed lazily on the call path.
#[derive(Debug)]
pub(crate) struct Topology {
    seeds: Vec<String>,
    pool: Pool,
    ask_timeout: Duration,
    refresh_interval: Duration,
    current: RwLock<Option<Arc<View>>>,
    stale: AtomicBool,
    refreshing: tokio::sync::Mutex<()>,
}

impl Topology {
    pub fn new(
        seeds: Vec<String>,
        pool: Pool,
        ask_timeout: Duration,
        refresh_interval: Duration,
    ) -> Topology {
        Topology {
            seeds,
            pool,
            ask_timeout,
            refresh_interval,
            current: RwLock::new(None),
            stale: AtomicBool::new(false),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The view as it is, without refreshing.
    pub fn peek(&self) -> Option<Arc<View>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks for a refresh on the next call (e.g. after a `shard-not-held` answer).
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// A current view: the one held when fresh; else refreshed now. A call that
    /// finds a refresh under way uses the view it has, when it has one.
    pub async fn view(&self) -> Result<Arc<View>, ClientError> {
        let held = self.peek();
        if let Some(view) = &held
            && !self.stale.load(Ordering::Relaxed)
            && view.fetched.elapsed() < self.refresh_interval
        {
            return Ok(Arc::clone(view));
        }
        let _guard = match &held {
            Some(view) => match self.refreshing.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(Arc::clone(view)),
            },
            None => {
                let guard = self.refreshing.lock().await;
                // Another call may have fetched the first view meanwhile.
                if let Some(view) = self.peek() {
                    return Ok(view);
                }
                guard
            }
        };
        self.stale.store(false, Ordering::Relaxed);
        match self.refresh(held.as_deref()).await {
            Ok(view) => {
                let view = Arc::new(view);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&view));
                Ok(view)
            }
            // Keep serving from what we know; the next call tries again.
            Err(_) if held.is_some() => {
                self.stale.store(true, Ordering::Relaxed);
                Ok(held.expect("checked"))
            }
            Err(e) => Err(e),
        }
    }

    /// Asks the known nodes (in parallel), else the seeds (in order), then every
    /// node of the fleet not asked yet.
    async fn refresh(&self, previous: Option<&View>) -> Result<View, ClientError> {
        let mut answers: HashMap<String, Result<TopologyResponse, String>> = HashMap::new();
        let mut fleet = None;
        if let Some(prev) = previous {
            let asked = self.ask_all(prev.fleet.nodes()).await;
            fleet = prev.fleet.nodes().iter().find_map(|n| match asked.get(n) {
                Some(Ok(answer)) => fleet_of(answer).ok(),
                _ => None,
            });
            answers.extend(asked);
        }
        let mut tried = Vec::new();
        if fleet.is_none() {
            for seed in &self.seeds {
                match self.ask(seed).await {
                    Ok(answer) => match fleet_of(&answer) {
                        Ok(f) => {
                            let name = if answer.nodes.contains(&answer.self_) {
                                answer.self_.clone()
                            } else {
                                seed.clone()
                            };
                            answers.insert(name, Ok(answer));
                            fleet = Some(f);
                            break;
                        }
                        Err(e) => tried.push((seed.clone(), e)),
                    },
                    Err(e) => tried.push((seed.clone(), e)),
                }
            }
        }
        let Some(fleet) = fleet else {
            return Err(ClientError::NoTopology {
                tried: Tried(tried),
            });
        };
        let missing: Vec<String> = fleet
            .nodes()
            .iter()
            .filter(|n| !answers.contains_key(*n))
            .cloned()
            .collect();
        answers.extend(self.ask_all(&missing).await);
        Ok(assemble(fleet, answers, previous, SystemTime::now()))
    }

    async fn ask_all(&self, nodes: &[String]) -> HashMap<String, Result<TopologyResponse, String>> {
        let asks = nodes
            .iter()
            .map(|n| async move { (n.clone(), self.ask(n).await) });
        join_all(asks).await.into_iter().collect()
    }

    async fn ask(&self, addr: &str) -> Result<TopologyResponse, String> {
        let node = self.pool.node(addr).map_err(|e| e.to_string())?;
        match tokio::time::timeout(self.ask_timeout, node.topology()).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.ask_timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tusk_proto::v1::{DomainTopology, VersionShards};

    fn answer(nodes: &[&str], me: &str, versions: &[(&str, u32, &[u32])]) -> TopologyResponse {
        TopologyResponse {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            replication: 2,
            fingerprint: "f".into(),
            self_: me.into(),
            domains: vec![DomainTopology {
                name: "d".into(),
                versions: versions
                    .iter()
                    .map(|(v, count, shards)| VersionShards {
                        version: v.to_string(),
                        shard_count: *count,
                        partitioner: "xxh64-pmod".into(),
                        shards: shards.to_vec(),
                    })
                    .collect(),
            }],
        }
    }

    const NODES: [&str; 3] = ["a:1", "b:1", "c:1"];

    fn view(answers: Vec<(&str, Result<TopologyResponse, String>)>, prev: Option<&View>) -> View {
        let fleet = fleet_of(&answer(&NODES, "a:1", &[])).expect("fleet");
        let answers = answers
            .into_iter()
            .map(|(n, a)| (n.to_string(), a))
            .collect();
        assemble(fleet, answers, prev, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn the_newest_served_version_names_the_shard_count() {
        let v = view(
            vec![
                ("a:1", Ok(answer(&NODES, "a:1", &[("v1", 4, &[0, 1])]))),
                (
                    "b:1",
                    Ok(answer(&NODES, "b:1", &[("v2", 8, &[3]), ("v1", 4, &[2])])),
                ),
                ("c:1", Err("down".into())),
            ],
            None,
        );
        assert_eq!(v.newest_version("d"), Some(("v2", 8)));
        assert_eq!(v.newest_version("other"), None);
        assert_eq!(v.shard_count("d", "v1"), Some(4));
        assert_eq!(v.shard_count("d", "v9"), None);
        assert!(v.holds(0, "d", "v1", 1));
        assert!(!v.holds(0, "d", "v1", 2));
        assert!(v.holds(1, "d", "v1", 2));
        assert!(!v.holds(2, "d", "v1", 2));
        assert_eq!(v.reports[2].error.as_deref(), Some("down"));
    }

    #[test]
    fn a_node_that_fails_keeps_its_old_report_but_is_not_trusted() {
        let first = view(
            vec![("c:1", Ok(answer(&NODES, "c:1", &[("v1", 4, &[0])])))],
            None,
        );
        assert!(first.holds(2, "d", "v1", 0));
        assert_eq!(first.reports[0].error.as_deref(), Some("not asked"));
        let second = view(vec![("c:1", Err("refused".into()))], Some(&first));
        assert_eq!(second.reports[2].fingerprint(), Some("f"));
        assert_eq!(second.reports[2].reported_at, Some(SystemTime::UNIX_EPOCH));
        assert!(!second.holds(2, "d", "v1", 0));
        assert_eq!(second.newest_version("d"), None);
        let snap = second.snapshot();
        assert_eq!(snap.nodes, NODES);
        assert_eq!(snap.fingerprint.len(), 16);
    }

    #[test]
    fn an_unusable_node_list_is_refused() {
        let mut a = answer(&["a:1"], "a:1", &[]);
        a.replication = 3;
        assert!(fleet_of(&a).unwrap_err().contains("replication"));
    }
}
