//! What `tusk status --servers` learned about each node: the Status and Topology
//! answers reduced to the facts the fleet view prints and checks.

use serde::Serialize;
use tusk_client::{DownloadProgress, StatusResponse, TopologyResponse};
use tusk_server::page::{eta, percent};

/// One address given in `--servers` and what it answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeReport {
    /// The address as given on the command line.
    pub address: String,
    /// Whether the node answered its Status RPC in time.
    pub reachable: bool,
    /// Why the node could not be asked (connect, RPC or deadline), when unreachable.
    pub error: Option<String>,
    /// The node's name in its fleet's node list (its listen address when alone).
    pub name: Option<String>,
    /// The tusk build the node runs.
    pub tusk_version: Option<String>,
    /// The shard formats the node reads (empty from a build older than the field).
    pub shard_formats: Vec<String>,
    /// The placement fingerprint the node reports (node set and replication).
    pub fingerprint: Option<String>,
    /// The fleet's node list as this node is configured.
    pub fleet_nodes: Vec<String>,
    /// How many nodes hold each shard, as this node is configured.
    pub replication: Option<u32>,
    /// Why the Topology RPC failed while Status answered (an older server, say).
    pub topology_error: Option<String>,
    /// What the node serves and holds, per domain, in its configuration order.
    pub domains: Vec<DomainReport>,
}

/// One domain on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainReport {
    /// Domain name.
    pub name: String,
    /// `loading`, `serving`, `failed` or `unknown`.
    pub state: String,
    /// The version answering requests that name none (None when nothing is loaded).
    pub serving: Option<String>,
    /// Versions held in memory, newest first.
    pub loaded_versions: Vec<String>,
    /// Versions complete on the node's disk, oldest first.
    pub local_versions: Vec<String>,
    /// The last load or poll error.
    pub last_error: Option<String>,
    /// The version whose load failed most recently.
    pub failed_version: Option<String>,
    /// The shards the node holds of each loaded version (from Topology).
    pub shards: Vec<ShardsHeld>,
    /// The version the node is downloading, if any.
    pub downloading: Option<Downloading>,
}

/// A download in progress on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Downloading {
    /// Version id.
    pub version: String,
    /// Bytes done of the total, in percent.
    pub percent: f64,
    /// Time left at the rate so far, when known.
    pub eta_seconds: Option<u64>,
}

impl Downloading {
    /// The download's progress as the Status RPC reports it.
    pub fn of(d: &DownloadProgress) -> Downloading {
        let elapsed = std::time::Duration::from_millis(d.elapsed_ms);
        Downloading {
            version: d.version.clone(),
            percent: percent(d.bytes_done, d.bytes_total),
            eta_seconds: eta(d.bytes_done, d.bytes_total, elapsed).map(|e| e.as_secs()),
        }
    }
}

/// The shards of one version one node holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardsHeld {
    /// Version id.
    pub version: String,
    /// Shards in the version.
    pub shard_count: u32,
    /// Shards the node holds, ascending.
    pub held: Vec<u32>,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

use crate::status_json::state_name;

impl NodeReport {
    /// A node that could not be asked: `error` says why.
    pub fn unreachable(address: &str, error: String) -> NodeReport {
        NodeReport {
            address: address.to_string(),
            reachable: false,
            error: Some(error),
            name: None,
            tusk_version: None,
            shard_formats: Vec::new(),
            fingerprint: None,
            fleet_nodes: Vec::new(),
            replication: None,
            topology_error: None,
            domains: Vec::new(),
        }
    }

    /// A node that answered Status, and Topology (`Ok`) or not (`Err` with why).
    pub fn from_answers(
        address: &str,
        status: &StatusResponse,
        topology: Result<&TopologyResponse, String>,
    ) -> NodeReport {
        let node = status.node.clone().unwrap_or_default();
        let (topo, topology_error) = match topology {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(e)),
        };
        let fingerprint = non_empty(&node.topology_fingerprint)
            .or_else(|| topo.and_then(|t| non_empty(&t.fingerprint)));
        let name = non_empty(&node.node_name)
            .or_else(|| topo.and_then(|t| non_empty(&t.self_)))
            .or_else(|| non_empty(&node.listen_addr));
        let domains = status
            .domains
            .iter()
            .map(|d| {
                let shards = topo
                    .and_then(|t| t.domains.iter().find(|td| td.name == d.name))
                    .map(|td| {
                        td.versions
                            .iter()
                            .map(|v| ShardsHeld {
                                version: v.version.clone(),
                                shard_count: v.shard_count,
                                held: v.shards.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                DomainReport {
                    name: d.name.clone(),
                    state: state_name(d.state).to_string(),
                    serving: non_empty(&d.current_version),
                    loaded_versions: d.loaded_versions.clone(),
                    local_versions: d.local_versions.clone(),
                    last_error: non_empty(&d.last_error),
                    failed_version: non_empty(&d.failed_version),
                    shards,
                    downloading: d.downloads.first().map(Downloading::of),
                }
            })
            .collect();
        NodeReport {
            address: address.to_string(),
            reachable: true,
            error: None,
            name,
            tusk_version: non_empty(&node.tusk_version),
            shard_formats: node.shard_formats.clone(),
            fingerprint,
            fleet_nodes: topo.map(|t| t.nodes.clone()).unwrap_or_default(),
            replication: topo.map(|t| t.replication),
            topology_error,
            domains,
        }
    }

    /// True when the node runs alone: its fleet is itself and nothing else, so it
    /// holds every shard and its fingerprint names only itself.
    pub fn runs_alone(&self) -> bool {
        match (self.fleet_nodes.as_slice(), &self.name) {
            ([only], Some(name)) => only == name,
            _ => false,
        }
    }
}

impl DomainReport {
    /// The shards held of `version`, if the node reported them.
    pub fn held(&self, version: &str) -> Option<&ShardsHeld> {
        self.shards.iter().find(|s| s.version == version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tusk_client::{DomainState, DomainStatus, DomainTopology, NodeInfo, VersionShards};

    fn status() -> StatusResponse {
        StatusResponse {
            node: Some(NodeInfo {
                listen_addr: "127.0.0.1:7070".into(),
                tusk_version: "0.1.0".into(),
                topology_fingerprint: "00000000000000aa".into(),
                node_name: "a:1".into(),
                ..Default::default()
            }),
            domains: vec![DomainStatus {
                name: "pages".into(),
                current_version: "v2".into(),
                loaded_versions: vec!["v2".into(), "v1".into()],
                state: DomainState::Serving as i32,
                downloads: vec![DownloadProgress {
                    version: "v3".into(),
                    bytes_done: 300,
                    bytes_total: 1200,
                    elapsed_ms: 5_000,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn answers_become_a_report_with_shards_per_version() {
        let topology = TopologyResponse {
            nodes: vec!["a:1".into(), "b:1".into()],
            replication: 1,
            fingerprint: "00000000000000aa".into(),
            self_: "a:1".into(),
            domains: vec![DomainTopology {
                name: "pages".into(),
                versions: vec![VersionShards {
                    version: "v2".into(),
                    shard_count: 4,
                    partitioner: "xxh64-pmod".into(),
                    shards: vec![0, 3],
                }],
            }],
        };
        let r = NodeReport::from_answers("a:1", &status(), Ok(&topology));
        assert!(r.reachable && !r.runs_alone());
        assert_eq!(r.name.as_deref(), Some("a:1"));
        assert_eq!(r.fingerprint.as_deref(), Some("00000000000000aa"));
        let d = &r.domains[0];
        assert_eq!(d.state, "serving");
        assert_eq!(d.serving.as_deref(), Some("v2"));
        assert_eq!(d.last_error, None);
        assert_eq!(d.held("v2").map(|s| s.held.clone()), Some(vec![0, 3]));
        assert_eq!(d.held("v1"), None);
        assert_eq!(
            d.downloading,
            Some(Downloading {
                version: "v3".into(),
                percent: 25.0,
                eta_seconds: Some(15),
            })
        );
    }

    #[test]
    fn a_failed_topology_keeps_the_status() {
        let r = NodeReport::from_answers("a:1", &status(), Err("unimplemented".into()));
        assert!(r.reachable);
        assert_eq!(r.topology_error.as_deref(), Some("unimplemented"));
        assert!(r.fleet_nodes.is_empty() && r.domains[0].shards.is_empty());
        assert!(
            !r.runs_alone(),
            "without a topology nothing says it runs alone"
        );
    }
}
