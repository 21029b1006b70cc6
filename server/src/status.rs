//! Building the Status and Topology RPCs' answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tusk_proto::v1::{
    DomainEvent, DomainStatus, DomainTopology, DownloadProgress, NodeInfo, StatusResponse,
    TopologyResponse, VersionShards,
};
use tusk_store::version_id::rfc3339;

use crate::activity::{self, Logged};
use crate::domain::{Domain, DomainState};
use crate::ownership::Ownership;

/// Facts about this node fixed at start.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    /// This node's place in its fleet.
    pub ownership: Arc<Ownership>,
    /// Bound gRPC address.
    pub listen_addr: SocketAddr,
    /// Monotonic start time, for the uptime.
    pub started: Instant,
    /// Wall-clock start time.
    pub started_at: SystemTime,
}

/// The whole status: node facts and every domain in configuration order.
pub fn build_status(node: &NodeFacts, domains: &[Arc<Domain>]) -> StatusResponse {
    StatusResponse {
        node: Some(NodeInfo {
            listen_addr: node.listen_addr.to_string(),
            tusk_version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: node.started.elapsed().as_secs(),
            started_at: rfc3339(node.started_at),
            topology_fingerprint: node.ownership.fingerprint().to_string(),
            node_name: node.ownership.node().to_string(),
            shard_formats: tusk_format::ShardFormat::ALL
                .iter()
                .map(|f| f.name().to_string())
                .collect(),
        }),
        domains: domains.iter().map(|d| domain_status(d)).collect(),
    }
}

/// The fleet as this node sees it, and the shards it holds of each held version.
pub fn build_topology(node: &NodeFacts, domains: &[Arc<Domain>]) -> TopologyResponse {
    let ownership = &node.ownership;
    TopologyResponse {
        nodes: ownership.fleet().nodes().to_vec(),
        replication: ownership.fleet().replication() as u32,
        fingerprint: ownership.fingerprint().to_string(),
        self_: ownership.node().to_string(),
        domains: domains
            .iter()
            .map(|d| DomainTopology {
                name: d.name().to_string(),
                versions: d
                    .held_full()
                    .map(|held| {
                        held.all()
                            .iter()
                            .map(|v| VersionShards {
                                version: v.version().to_string(),
                                shard_count: v.manifest().shard_count,
                                partitioner: v.manifest().partitioner.kind.clone(),
                                shards: v.held_shards().map(|s| s.entry().index).collect(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// The status of one domain.
pub fn domain_status(domain: &Domain) -> DomainStatus {
    let (info, held) = domain.snapshot();
    let activity = domain.activity();
    DomainStatus {
        name: domain.name().to_string(),
        store_url: domain.store_url().to_string(),
        current_version: held
            .as_ref()
            .map(|h| h.current().version().to_string())
            .unwrap_or_default(),
        local_versions: info.local_versions,
        state: proto_state(info.state) as i32,
        last_error: info.last_error.map(|(_, e)| e).unwrap_or_default(),
        failed_version: info.failed_version.unwrap_or_default(),
        swaps: info.swaps,
        last_poll_at: info.last_poll_at.map(rfc3339).unwrap_or_default(),
        loaded_versions: held.map(|h| h.ids()).unwrap_or_default(),
        store_current_version: info.store_current.unwrap_or_default(),
        note: info.note,
        downloads: activity.downloads().into_iter().map(download).collect(),
        recent_errors: activity.errors().into_iter().map(event).collect(),
        moves: activity.moves().into_iter().map(event).collect(),
    }
}

fn download(d: activity::DownloadProgress) -> DownloadProgress {
    DownloadProgress {
        version: d.version,
        bytes_done: d.bytes_done,
        bytes_total: d.bytes_total,
        shards_done: d.shards_done,
        shards_total: d.shards_total,
        started_at: rfc3339(d.started_at),
        elapsed_ms: u64::try_from(d.elapsed.as_millis()).unwrap_or(u64::MAX),
    }
}

fn event(e: Logged) -> DomainEvent {
    DomainEvent {
        at: rfc3339(e.at),
        kind: e.kind.name().to_string(),
        version: e.version,
        message: e.message,
    }
}

/// The Status RPC's name for a domain's state.
fn proto_state(state: DomainState) -> tusk_proto::v1::DomainState {
    match state {
        DomainState::Loading => tusk_proto::v1::DomainState::Loading,
        DomainState::Serving => tusk_proto::v1::DomainState::Serving,
        DomainState::Failed => tusk_proto::v1::DomainState::Failed,
    }
}
