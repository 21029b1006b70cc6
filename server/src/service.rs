//! The `tusk.v1.Tusk` gRPC service: Get, MultiGet, Status.
//!
//! Each request loads its domain's held versions once and answers every key from
//! that one version (never a mix across a swap). Nothing is allocated per key
//! beyond the returned value. A read that hits a damaged record fails `INTERNAL`
//! and flags its shard, which wakes the scrubber for it.

use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};
use tusk_proto::v1::tusk_server::Tusk;
use tusk_proto::v1::{
    Entry, GetRequest, GetResponse, MultiGetRequest, MultiGetResponse, StatusRequest,
    StatusResponse, TopologyRequest, TopologyResponse,
};

use crate::domain::{Domain, ShardRef};
use crate::error::ReadError;
use crate::metrics::{Metrics, RpcHandles};
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
}

/// Each method's pre-resolved metric handles.
#[derive(Debug)]
struct Rpcs {
    get: RpcHandles,
    multi_get: RpcHandles,
    status: RpcHandles,
    topology: RpcHandles,
}

impl TuskService {
    /// A service over `domains`.
    pub fn new(
        domains: Arc<Vec<Arc<Domain>>>,
        limits: Limits,
        metrics: Arc<Metrics>,
        node: NodeFacts,
    ) -> Self {
        let rpcs = Arc::new(Rpcs {
            get: metrics.rpc_handles(SERVICE, "Get"),
            multi_get: metrics.rpc_handles(SERVICE, "MultiGet"),
            status: metrics.rpc_handles(SERVICE, "Status"),
            topology: metrics.rpc_handles(SERVICE, "Topology"),
        });
        TuskService {
            domains,
            limits,
            metrics,
            rpcs,
            node,
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

    fn get_inner(&self, req: &GetRequest) -> Result<GetResponse, ReadError> {
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
            value: value.map(<[u8]>::to_vec).unwrap_or_default(),
            version: version.version().to_string(),
        })
    }

    fn multi_get_inner(&self, req: &MultiGetRequest) -> Result<MultiGetResponse, ReadError> {
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
        let version = held.select(domain.name(), &req.version)?;
        let mut entries = Vec::with_capacity(req.keys.len());
        let mut hits = 0u64;
        for key in &req.keys {
            let value = version.get(key).inspect_err(|e| flag_damage(domain, e))?;
            hits += u64::from(value.is_some());
            entries.push(Entry {
                found: value.is_some(),
                value: value.map(<[u8]>::to_vec).unwrap_or_default(),
            });
        }
        domain.keys().hits.inc_by(hits);
        domain.keys().misses.inc_by(entries.len() as u64 - hits);
        Ok(MultiGetResponse {
            entries,
            version: version.version().to_string(),
        })
    }

    fn finish<T>(
        &self,
        rpc: &RpcHandles,
        start: Instant,
        result: Result<T, ReadError>,
    ) -> Result<Response<T>, Status> {
        let result = result.map(Response::new).map_err(Status::from);
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        self.metrics.observe_rpc(rpc, code, start.elapsed());
        result
    }
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
        let result = self.get_inner(request.get_ref());
        self.finish(&self.rpcs.get, start, result)
    }

    async fn multi_get(
        &self,
        request: Request<MultiGetRequest>,
    ) -> Result<Response<MultiGetResponse>, Status> {
        let start = Instant::now();
        let result = self.multi_get_inner(request.get_ref());
        self.finish(&self.rpcs.multi_get, start, result)
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let start = Instant::now();
        let status = build_status(&self.node, &self.domains);
        self.finish(&self.rpcs.status, start, Ok(status))
    }

    async fn topology(
        &self,
        _request: Request<TopologyRequest>,
    ) -> Result<Response<TopologyResponse>, Status> {
        let start = Instant::now();
        let topology = build_topology(&self.node, &self.domains);
        self.finish(&self.rpcs.topology, start, Ok(topology))
    }
}
