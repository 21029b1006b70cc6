//! The `tusk.v1.Tusk` gRPC service: Get, MultiGet, Status, Topology.
//!
//! Each request loads its domain's held versions once and answers every key from
//! that one version (never a mix across a swap). Keys of shards this node does not
//! hold are forwarded to nodes that do (`forward.rs`), pinned to the same version.
//! Values are slices of the memory-mapped shards ([`bytes::Bytes`]): nothing is
//! copied or allocated per key on the way to the encoder, and a MultiGet overlaps
//! its keys' memory accesses ([`LoadedVersion::get_many`]). A read that hits a
//! damaged record fails `INTERNAL` and flags its shard, which wakes the scrubber
//! for it.
//!
//! [`LoadedVersion::get_many`]: crate::loaded::LoadedVersion::get_many

use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};
use tusk_proto::VersionId;
use tusk_proto::v1::tusk_server::Tusk;
use tusk_proto::v1::{
    Entry, GetRequest, GetResponse, MultiGetRequest, MultiGetResponse, StatusRequest,
    StatusResponse, TopologyRequest, TopologyResponse,
};

use crate::domain::{Domain, ShardRef};
use crate::error::ReadError;
use crate::forward::{self, Peers};
use crate::metrics::{DomainRpc, Metrics, RpcHandles, UNKNOWN_DOMAIN};
use crate::ownership::Ownership;
use crate::status::{NodeFacts, build_status, build_topology};

const SERVICE: &str = tusk_proto::SERVICE_NAME;

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest key length.
    pub max_key_len: usize,
    /// Most keys in one MultiGet.
    pub max_batch: usize,
}

/// The service implementation.
#[derive(Debug, Clone)]
pub struct TuskService {
    domains: Arc<Vec<Arc<Domain>>>,
    limits: Limits,
    metrics: Arc<Metrics>,
    rpcs: Arc<Rpcs>,
    node: NodeFacts,
    ownership: Arc<Ownership>,
    peers: Peers,
}

/// Each method's pre-resolved metric handles.
#[derive(Debug)]
struct Rpcs {
    get: RpcHandles,
    multi_get: RpcHandles,
    status: RpcHandles,
    topology: RpcHandles,
    /// Per domain, in the order of `domains`, then one for unknown domains.
    by_domain: Vec<DomainRpcs>,
}

/// One domain's pre-resolved Get and MultiGet handles.
#[derive(Debug)]
struct DomainRpcs {
    get: DomainRpc,
    multi_get: DomainRpc,
}

impl Rpcs {
    /// The handles of domain `name` (the unknown-domain ones, last, when not
    /// served: `by_domain` holds one more entry than `domains`).
    fn of(&self, domains: &[Arc<Domain>], name: &str) -> &DomainRpcs {
        let index = domains
            .iter()
            .position(|d| d.name() == name)
            .unwrap_or(domains.len());
        &self.by_domain[index]
    }
}

impl TuskService {
    /// A service over `domains`.
    pub fn new(
        domains: Arc<Vec<Arc<Domain>>>,
        limits: Limits,
        metrics: Arc<Metrics>,
        node: NodeFacts,
        peers: Peers,
    ) -> Self {
        let rpcs = Arc::new(Rpcs {
            get: metrics.rpc_handles(SERVICE, "Get"),
            multi_get: metrics.rpc_handles(SERVICE, "MultiGet"),
            status: metrics.rpc_handles(SERVICE, "Status"),
            topology: metrics.rpc_handles(SERVICE, "Topology"),
            by_domain: domains
                .iter()
                .map(|d| d.name())
                .chain([UNKNOWN_DOMAIN])
                .map(|name| DomainRpcs {
                    get: metrics.domain_rpc(name, "Get"),
                    multi_get: metrics.domain_rpc(name, "MultiGet"),
                })
                .collect(),
        });
        TuskService {
            domains,
            limits,
            metrics,
            rpcs,
            ownership: Arc::clone(&node.ownership),
            node,
            peers,
        }
    }

    fn domain(&self, name: &str) -> Result<&Arc<Domain>, ReadError> {
        self.domains
            .iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| ReadError::UnknownDomain {
                domain: name.to_string(),
                served: self
                    .domains
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn check_key(&self, key: &[u8], index: Option<usize>) -> Result<(), ReadError> {
        if key.is_empty() {
            return Err(ReadError::EmptyKey { index });
        }
        if key.len() > self.limits.max_key_len {
            return Err(ReadError::KeyTooLong {
                len: key.len(),
                max: self.limits.max_key_len,
                index,
            });
        }
        Ok(())
    }

    /// Looks `req.key` up in the version the request names (or the current one).
    fn get_local(&self, req: &GetRequest) -> Result<GetResponse, ReadError> {
        let domain = self.domain(&req.domain)?;
        self.check_key(&req.key, None)?;
        let held = domain.held()?;
        let version = held.select(domain.name(), &req.version)?;
        let value = version
            .get(&req.key)
            .inspect_err(|e| flag_damage(domain, e))?;
        count(domain, value.is_some(), 1);
        Ok(GetResponse {
            found: value.is_some(),
            value: value.unwrap_or_default(),
            version: version.version_id().clone(),
        })
    }

    /// A Get, forwarded to the replicas of its shard when this node does not hold
    /// it (and to every other node while nothing is loaded here).
    async fn get_inner(&self, req: &GetRequest, forwarded: bool) -> Result<GetResponse, Status> {
        let may_forward = !forwarded && self.peers.any();
        match self.get_local(req) {
            Err(ReadError::ShardNotHeld { shard, .. }) if may_forward => {
                let replicas = self.ownership.other_replicas(&req.domain, shard);
                self.count_forwarded(&req.domain, 1);
                self.peers.get(&replicas, req).await
            }
            Err(e @ ReadError::NotLoaded { .. }) if may_forward => {
                self.count_forwarded(&req.domain, 1);
                let all = self.peers.all();
                self.peers.get(&all, req).await.map_err(|_| Status::from(e))
            }
            other => other.map_err(Status::from),
        }
    }

    /// Looks every key up in one version (`version`, else the one the request
    /// names, else the current one). With `allow_missing`, keys of shards this
    /// node does not hold are left for forwarding instead of failing the request.
    fn multi_get_local(
        &self,
        req: &MultiGetRequest,
        version: Option<&str>,
        allow_missing: bool,
    ) -> Result<LocalPart, ReadError> {
        let domain = self.domain(&req.domain)?;
        if req.keys.len() > self.limits.max_batch {
            return Err(ReadError::TooManyKeys {
                count: req.keys.len(),
                max: self.limits.max_batch,
            });
        }
        for (i, key) in req.keys.iter().enumerate() {
            self.check_key(key, Some(i))?;
        }
        let held = domain.held()?;
        let version = held.select(domain.name(), version.unwrap_or(&req.version))?;
        let mut entries = Vec::with_capacity(req.keys.len());
        let mut missing = Vec::new();
        let mut hits = 0u64;
        let mut failed = None;
        version.get_many(&req.keys, |i, result| match result {
            Ok(value) => {
                hits += u64::from(value.is_some());
                entries.push(Entry {
                    found: value.is_some(),
                    value: value.unwrap_or_default(),
                });
            }
            Err(ReadError::ShardNotHeld { shard, .. }) if allow_missing => {
                missing.push((i, shard));
                entries.push(Entry::default());
            }
            Err(e) => {
                failed.get_or_insert(e);
                entries.push(Entry::default());
            }
        });
        if let Some(e) = failed {
            flag_damage(domain, &e);
            return Err(e);
        }
        let local = (entries.len() - missing.len()) as u64;
        domain.keys().hits.inc_by(hits);
        domain.keys().misses.inc_by(local - hits);
        Ok(LocalPart {
            entries,
            version: version.version_id().clone(),
            missing,
        })
    }

    /// A MultiGet: the keys this node holds answered here, the others forwarded
    /// (grouped by replicas, in parallel) pinned to the same version, so the answer
    /// comes from one version. When the other nodes do not hold this node's version
    /// (mid-rollout) and the request names none, the version they serve is used
    /// instead if this node still holds it.
    async fn multi_get_inner(
        &self,
        req: &MultiGetRequest,
        forwarded: bool,
    ) -> Result<MultiGetResponse, Status> {
        let may_forward = !forwarded && self.peers.any();
        let local = match self.multi_get_local(req, None, may_forward) {
            Err(e @ ReadError::NotLoaded { .. }) if may_forward => {
                self.count_forwarded(&req.domain, req.keys.len() as u64);
                let all = self.peers.all();
                return self
                    .peers
                    .multi_get(&all, req)
                    .await
                    .map_err(|_| Status::from(e));
            }
            other => other.map_err(Status::from)?,
        };
        let first = self.complete(req, local).await;
        let Err(status) = &first else { return first };
        if !req.version.is_empty()
            || forward::reason(status) != Some(tusk_proto::REASON_VERSION_NOT_HELD)
        {
            return first;
        }
        // The replicas serve another version, which their refusal names.
        let Some(served) = forward::served_version(status).map(str::to_string) else {
            return first;
        };
        match self.multi_get_local(req, Some(&served), true) {
            Ok(local) => self.complete(req, local).await,
            Err(ReadError::VersionNotHeld { held, .. }) => Err(Status::unavailable(format!(
                "the fleet is between versions of {:?}: this node holds {held}, its peers serve {served}; retry, or name a version",
                req.domain
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Fills the keys `local` left missing from the nodes holding them, pinned to
    /// `local`'s version.
    async fn complete(
        &self,
        req: &MultiGetRequest,
        local: LocalPart,
    ) -> Result<MultiGetResponse, Status> {
        let LocalPart {
            mut entries,
            version,
            missing,
        } = local;
        if !missing.is_empty() {
            self.count_forwarded(&req.domain, missing.len() as u64);
            let groups = forward::group_by_replicas(&self.ownership, &req.domain, missing);
            let calls = groups.iter().map(|group| {
                let part = MultiGetRequest {
                    domain: req.domain.clone(),
                    keys: group.keys.iter().map(|&i| req.keys[i].clone()).collect(),
                    version: version.to_string(),
                };
                async move { self.peers.multi_get(&group.replicas, &part).await }
            });
            let answers = futures::future::try_join_all(calls).await?;
            for (group, answer) in groups.iter().zip(answers) {
                if answer.entries.len() != group.keys.len() || answer.version != version {
                    return Err(Status::internal(format!(
                        "a forwarded MultiGet answered {} keys from version {:?}; asked {} from {version:?}",
                        answer.entries.len(),
                        answer.version,
                        group.keys.len()
                    )));
                }
                for (&i, entry) in group.keys.iter().zip(answer.entries) {
                    entries[i] = entry;
                }
            }
        }
        Ok(MultiGetResponse { entries, version })
    }

    /// Counts forwarded keys on the domain's pre-resolved counter (no label lookup).
    fn count_forwarded(&self, domain: &str, keys: u64) {
        if let Some(d) = self.domains.iter().find(|d| d.name() == domain) {
            d.keys().forwarded.inc_by(keys);
        }
    }

    fn finish<T>(
        &self,
        rpc: &RpcHandles,
        by_domain: Option<&DomainRpc>,
        start: Instant,
        result: Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        let result = result.map(Response::new);
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        let elapsed = start.elapsed();
        self.metrics.observe_rpc(rpc, code, elapsed);
        if let Some(domain) = by_domain {
            self.metrics.observe_request(domain, code, elapsed);
        }
        result
    }
}

/// The part of a MultiGet this node answered itself.
struct LocalPart {
    /// One entry per key; the missing ones are placeholders.
    entries: Vec<Entry>,
    /// The version that answered.
    version: VersionId,
    /// Keys (index, shard) of shards this node does not hold.
    missing: Vec<(usize, u32)>,
}

/// True when another node forwarded this request (it is never forwarded again).
fn is_forwarded<T>(request: &Request<T>) -> bool {
    request
        .metadata()
        .contains_key(tusk_proto::FORWARDED_HEADER)
}

/// A damaged record wakes the scrubber for its shard (the request still fails).
fn flag_damage(domain: &Domain, error: &ReadError) {
    if let ReadError::Corrupt { version, shard, .. } = error {
        domain.read_hit_damage(ShardRef {
            version: version.clone(),
            shard: *shard,
        });
    }
}

fn count(domain: &Domain, found: bool, n: u64) {
    if found {
        domain.keys().hits.inc_by(n);
    } else {
        domain.keys().misses.inc_by(n);
    }
}

#[tonic::async_trait]
impl Tusk for TuskService {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let start = Instant::now();
        let result = self
            .get_inner(request.get_ref(), is_forwarded(&request))
            .await;
        let by_domain = &self.rpcs.of(&self.domains, &request.get_ref().domain).get;
        self.finish(&self.rpcs.get, Some(by_domain), start, result)
    }

    async fn multi_get(
        &self,
        request: Request<MultiGetRequest>,
    ) -> Result<Response<MultiGetResponse>, Status> {
        let start = Instant::now();
        let result = self
            .multi_get_inner(request.get_ref(), is_forwarded(&request))
            .await;
        let by_domain = &self
            .rpcs
            .of(&self.domains, &request.get_ref().domain)
            .multi_get;
        self.finish(&self.rpcs.multi_get, Some(by_domain), start, result)
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let start = Instant::now();
        let status = build_status(&self.node, &self.domains);
        self.finish(&self.rpcs.status, None, start, Ok(status))
    }

    async fn topology(
        &self,
        _request: Request<TopologyRequest>,
    ) -> Result<Response<TopologyResponse>, Status> {
        let start = Instant::now();
        let topology = build_topology(&self.node, &self.domains);
        self.finish(&self.rpcs.topology, None, start, Ok(topology))
    }
}
