//! Building the Status RPC's answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tusk_proto::v1::{DomainStatus, NodeInfo, StatusResponse};
use tusk_store::version_id::rfc3339;

use crate::domain::{Domain, DomainState};

/// Facts about this node fixed at start.
#[derive(Debug, Clone)]
pub struct NodeFacts {
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
        }),
        domains: domains.iter().map(|d| domain_status(d)).collect(),
    }
}

/// The status of one domain.
pub fn domain_status(domain: &Domain) -> DomainStatus {
    let (info, held) = domain.snapshot();
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
