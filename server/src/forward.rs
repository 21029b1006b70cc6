//! Forwarding: a node asked for keys of shards it does not hold asks the nodes
//! that do, so a plain gRPC client behind a load balancer gets every key answered.
//!
//! - Which keys go where is a pure decision ([`group_by_replicas`]): keys whose
//!   shards share the same replicas (in placement order) travel in one request.
//! - Each group fails over along its replicas: an attempt that fails UNAVAILABLE,
//!   FAILED_PRECONDITION or DEADLINE_EXCEEDED, or misses `attempt_timeout`, moves
//!   to the next one; any other answer is final.
//! - Every forwarded request carries [`tusk_proto::FORWARDED_HEADER`]; a node never
//!   forwards a request that carries it, so forwarding never loops.

use std::collections::BTreeMap;
use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tusk_client::{NodeOptions, TlsOptions};
use tusk_proto::v1::tusk_client::TuskClient;
use tusk_proto::v1::{GetRequest, GetResponse, MultiGetRequest, MultiGetResponse};

use crate::ownership::Ownership;

/// Connections to the other nodes of the fleet (lazy: a connection is made on first
/// use and re-made after it breaks).
#[derive(Debug, Clone)]
pub struct Peers {
    clients: BTreeMap<String, TuskClient<Channel>>,
    attempt_timeout: Duration,
}

/// One group of keys forwarded together: their indexes in the request and the
/// nodes to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group<'a> {
    /// The nodes holding these keys' shards, in placement order (this node excluded).
    pub replicas: Vec<&'a str>,
    /// Indexes of the keys in the request, ascending.
    pub keys: Vec<usize>,
}

impl Peers {
    /// Lazy channels to every node of `ownership`'s fleet but this one, over TLS
    /// (this node's certificate as client identity) when `tls` is given. Built by
    /// the client crate's endpoint code, so peers are dialled exactly as clients
    /// dial nodes.
    pub fn new(
        ownership: &Ownership,
        attempt_timeout: Duration,
        max_message_bytes: usize,
        tls: Option<TlsOptions>,
    ) -> Result<Peers, String> {
        let options = NodeOptions {
            connect_timeout: attempt_timeout,
            request_timeout: None,
            max_message_bytes,
            tls,
        };
        let mut clients = BTreeMap::new();
        for node in ownership.fleet().nodes() {
            if node == ownership.node() {
                continue;
            }
            let endpoint = options
                .endpoint(node)
                .map_err(|e| format!("node {node:?}: {e}"))?
                .tcp_nodelay(true);
            let client = TuskClient::new(endpoint.connect_lazy())
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes);
            clients.insert(node.clone(), client);
        }
        Ok(Peers {
            clients,
            attempt_timeout,
        })
    }

    /// True when there is anyone to forward to.
    pub fn any(&self) -> bool {
        !self.clients.is_empty()
    }

    /// Every other node, for a request this node cannot place (nothing loaded).
    pub fn all(&self) -> Vec<&str> {
        self.clients.keys().map(String::as_str).collect()
    }

    /// Sends `request` to the first of `replicas` that answers it.
    pub async fn get(
        &self,
        replicas: &[&str],
        request: &GetRequest,
    ) -> Result<GetResponse, Status> {
        self.failover(replicas, request, |mut client, request| async move {
            client.get(request).await.map(tonic::Response::into_inner)
        })
        .await
    }

    /// Sends `request` to the first of `replicas` that answers it.
    pub async fn multi_get(
        &self,
        replicas: &[&str],
        request: &MultiGetRequest,
    ) -> Result<MultiGetResponse, Status> {
        self.failover(replicas, request, |mut client, request| async move {
            client
                .multi_get(request)
                .await
                .map(tonic::Response::into_inner)
        })
        .await
    }

    async fn failover<M, T, F, Fut>(
        &self,
        replicas: &[&str],
        message: &M,
        call: F,
    ) -> Result<T, Status>
    where
        M: Clone,
        F: Fn(TuskClient<Channel>, Request<M>) -> Fut,
        Fut: std::future::Future<Output = Result<T, Status>>,
    {
        let mut failures: Vec<(String, Status)> = Vec::new();
        for &node in replicas {
            let Some(client) = self.clients.get(node) else {
                continue;
            };
            let mut request = Request::new(message.clone());
            request.set_timeout(self.attempt_timeout);
            request.metadata_mut().insert(
                tusk_proto::FORWARDED_HEADER,
                MetadataValue::from_static("1"),
            );
            let attempt = tokio::time::timeout(self.attempt_timeout, call(client.clone(), request));
            let status = match attempt.await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(status)) => status,
                Err(_) => Status::deadline_exceeded(format!(
                    "no answer within {}",
                    humantime::format_duration(self.attempt_timeout)
                )),
            };
            if !worth_another_replica(&status) {
                return Err(status);
            }
            failures.push((node.to_string(), status));
        }
        Err(all_failed(failures))
    }
}

/// True when another replica may answer what this status refused.
pub fn worth_another_replica(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::FailedPrecondition | Code::DeadlineExceeded | Code::Unknown
    ) || tusk_client::is_http2_failure(status)
}

/// The version a `version-not-held` refusal says the refusing node serves.
pub fn served_version(status: &Status) -> Option<&str> {
    status
        .metadata()
        .get(tusk_proto::SERVED_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
}

/// The reason (`tusk-reason`) a status carries, if any.
pub fn reason(status: &Status) -> Option<&str> {
    status
        .metadata()
        .get(tusk_proto::REASON_HEADER)
        .and_then(|v| v.to_str().ok())
}

/// The error for a group no replica answered: UNAVAILABLE naming every node and its
/// answer; it keeps `version-not-held` when every replica said so (the caller may
/// then pick another version).
fn all_failed(failures: Vec<(String, Status)>) -> Status {
    if failures.is_empty() {
        return Status::unavailable("no other node holds this shard");
    }
    let every_version_missing = failures
        .iter()
        .all(|(_, s)| reason(s) == Some(tusk_proto::REASON_VERSION_NOT_HELD));
    let detail = failures
        .iter()
        .map(|(node, s)| format!("{node}: {:?}: {}", s.code(), s.message()))
        .collect::<Vec<_>>()
        .join("; ");
    let (code, text) = if every_version_missing {
        (Code::FailedPrecondition, "no replica holds the version")
    } else {
        (Code::Unavailable, "no replica answered")
    };
    let mut status = Status::new(code, format!("forwarded: {text}: {detail}"));
    if every_version_missing {
        status.metadata_mut().insert(
            tusk_proto::REASON_HEADER,
            MetadataValue::from_static(tusk_proto::REASON_VERSION_NOT_HELD),
        );
        if let Some(served) = failures[0]
            .1
            .metadata()
            .get(tusk_proto::SERVED_VERSION_HEADER)
        {
            status
                .metadata_mut()
                .insert(tusk_proto::SERVED_VERSION_HEADER, served.clone());
        }
    }
    status
}

/// Groups the keys at `indexes` (with their shards) by the nodes holding their
/// shards, in placement order: one forwarded request per group.
pub fn group_by_replicas<'a>(
    ownership: &'a Ownership,
    domain: &str,
    shards: impl IntoIterator<Item = (usize, u32)>,
) -> Vec<Group<'a>> {
    let mut by_shard: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (index, shard) in shards {
        by_shard.entry(shard).or_default().push(index);
    }
    let mut groups: Vec<Group<'a>> = Vec::new();
    for (shard, keys) in by_shard {
        let replicas = ownership.other_replicas(domain, shard);
        match groups.iter_mut().find(|g| g.replicas == replicas) {
            Some(group) => group.keys.extend(keys),
            None => groups.push(Group { replicas, keys }),
        }
    }
    for group in &mut groups {
        group.keys.sort_unstable();
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use tusk_format::placement::Fleet;

    fn ownership(me: &str) -> Ownership {
        let nodes = ["a:1", "b:1", "c:1", "d:1"].map(String::from).to_vec();
        Ownership::new(Fleet::new(nodes, 2).expect("fleet"), me).expect("member")
    }

    #[test]
    fn keys_of_shards_with_the_same_replicas_travel_together() {
        let o = ownership("a:1");
        let shards: Vec<(usize, u32)> = (0..64).map(|i| (i, (i as u32 * 7) % 16)).collect();
        let groups = group_by_replicas(&o, "d", shards.clone());
        let mut seen: Vec<usize> = groups.iter().flat_map(|g| g.keys.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..64).collect::<Vec<_>>(), "every key exactly once");
        for g in &groups {
            assert!(!g.replicas.contains(&"a:1"), "never forwards to itself");
            assert!(!g.replicas.is_empty());
            for &k in &g.keys {
                let shard = shards[k].1;
                assert_eq!(g.replicas, o.other_replicas("d", shard), "key {k}");
            }
        }
        let distinct: std::collections::BTreeSet<_> = groups.iter().map(|g| &g.replicas).collect();
        assert_eq!(distinct.len(), groups.len(), "one group per replica list");
    }

    #[test]
    fn only_refusals_another_node_may_not_share_move_on() {
        assert!(worth_another_replica(&Status::unavailable("down")));
        assert!(worth_another_replica(&Status::failed_precondition("shard")));
        assert!(worth_another_replica(&Status::deadline_exceeded("slow")));
        assert!(!worth_another_replica(&Status::invalid_argument("key")));
        assert!(!worth_another_replica(&Status::not_found("domain")));
        assert!(!worth_another_replica(&Status::internal("corrupt")));
        assert!(worth_another_replica(&Status::resource_exhausted(
            "h2 protocol error: GOAWAY"
        )));
        assert!(!worth_another_replica(&Status::resource_exhausted(
            "too large"
        )));
    }

    #[test]
    fn a_group_nobody_answered_names_every_node() {
        let mut missing = Status::failed_precondition("v9 not held");
        missing.metadata_mut().insert(
            tusk_proto::REASON_HEADER,
            MetadataValue::from_static(tusk_proto::REASON_VERSION_NOT_HELD),
        );
        let both_missing = all_failed(vec![
            ("b:1".into(), missing.clone()),
            ("c:1".into(), missing.clone()),
        ]);
        assert_eq!(both_missing.code(), Code::FailedPrecondition);
        assert_eq!(
            reason(&both_missing),
            Some(tusk_proto::REASON_VERSION_NOT_HELD)
        );
        let mixed = all_failed(vec![
            ("b:1".into(), missing),
            ("c:1".into(), Status::unavailable("connection refused")),
        ]);
        assert_eq!(mixed.code(), Code::Unavailable);
        assert_eq!(reason(&mixed), None);
        assert!(
            mixed.message().contains("b:1") && mixed.message().contains("c:1: Unavailable"),
            "{}",
            mixed.message()
        );
    }
}
