//! MultiGet's one-version rule against in-process fake nodes that hold chosen
//! versions and only their own shards (rendezvous placement, replication 1), so
//! every path of the version decision runs deterministically.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};
use tusk_client::{Client, ClientError, Code};
use tusk_format::partition::shard_for;
use tusk_format::placement::{self, Fleet};
use tusk_proto::v1::tusk_server::{Tusk, TuskServer};
use tusk_proto::v1::{
    DomainTopology, Entry, GetRequest, GetResponse, MultiGetRequest, MultiGetResponse,
    StatusRequest, StatusResponse, TopologyRequest, TopologyResponse, VersionShards,
};

const DOMAIN: &str = "d";
const SHARDS: u32 = 8;

/// A node holding `versions` (served one first) of `DOMAIN`, only its shards;
/// it answers MultiGets after `delay` (to order the answers of a fan-out).
struct Fake {
    fleet: Fleet,
    me: String,
    versions: Vec<String>,
    delay: Duration,
}

fn failed(reason: &'static str, message: String) -> Status {
    let mut status = Status::failed_precondition(message);
    status.metadata_mut().insert(
        tusk_proto::REASON_HEADER,
        tonic::metadata::MetadataValue::from_static(reason),
    );
    status
}

impl Fake {
    fn select(&self, version: &str) -> Result<&str, Status> {
        if version.is_empty() {
            return Ok(&self.versions[0]);
        }
        self.versions
            .iter()
            .find(|v| *v == version)
            .map(String::as_str)
            .ok_or_else(|| {
                failed(
                    tusk_proto::REASON_VERSION_NOT_HELD,
                    format!("{version} not held"),
                )
            })
    }

    fn entry(&self, key: &[u8], version: &str) -> Result<Entry, Status> {
        let shard = shard_for(key, SHARDS);
        let holders = placement::replicas(&self.fleet, DOMAIN, shard);
        if !holders.iter().any(|&i| self.fleet.nodes()[i] == self.me) {
            return Err(failed(
                tusk_proto::REASON_SHARD_NOT_HELD,
                format!("shard {shard} not held"),
            ));
        }
        Ok(Entry {
            found: true,
            value: format!("{version}:{}", String::from_utf8_lossy(key))
                .into_bytes()
                .into(),
        })
    }
}

#[tonic::async_trait]
impl Tusk for Fake {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let req = request.into_inner();
        let version = self.select(&req.version)?;
        let entry = self.entry(&req.key, version)?;
        Ok(Response::new(GetResponse {
            found: entry.found,
            value: entry.value,
            version: version.into(),
        }))
    }

    async fn multi_get(
        &self,
        request: Request<MultiGetRequest>,
    ) -> Result<Response<MultiGetResponse>, Status> {
        tokio::time::sleep(self.delay).await;
        let req = request.into_inner();
        let version = self.select(&req.version)?;
        let entries = req
            .keys
            .iter()
            .map(|k| self.entry(k, version))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(MultiGetResponse {
            entries,
            version: version.into(),
        }))
    }

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn topology(
        &self,
        _: Request<TopologyRequest>,
    ) -> Result<Response<TopologyResponse>, Status> {
        let shards = placement::shards_of(&self.fleet, DOMAIN, SHARDS, &self.me);
        Ok(Response::new(TopologyResponse {
            nodes: self.fleet.nodes().to_vec(),
            replication: self.fleet.replication() as u32,
            fingerprint: self.fleet.fingerprint().to_string(),
            self_: self.me.clone(),
            domains: vec![DomainTopology {
                name: DOMAIN.into(),
                versions: self
                    .versions
                    .iter()
                    .map(|v| VersionShards {
                        version: v.clone(),
                        shard_count: SHARDS,
                        partitioner: "xxh64-pmod".into(),
                        shards: shards.clone(),
                    })
                    .collect(),
            }],
        }))
    }
}

/// Starts one fake node on 127.0.0.1 per entry of `holdings` (its versions, the
/// served one first, and its MultiGet delay); the servers end with the test's
/// runtime.
async fn fleet(holdings: &[(&[&str], u64)]) -> Vec<String> {
    let mut listeners = Vec::new();
    for _ in holdings {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
    }
    let addrs: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").to_string())
        .collect();
    let fleet = Fleet::new(addrs.clone(), 1).expect("fleet");
    for ((listener, addr), (versions, delay)) in listeners.into_iter().zip(&addrs).zip(holdings) {
        let fake = Fake {
            fleet: fleet.clone(),
            me: addr.clone(),
            versions: versions.iter().map(|v| v.to_string()).collect(),
            delay: Duration::from_millis(*delay),
        };
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TuskServer::new(fake))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
    }
    addrs
}

fn keys() -> Vec<String> {
    (0..64).map(|i| format!("k{i}")).collect()
}

/// The keys land on every node (else the test would test nothing).
fn assert_spans(addrs: &[String], keys: &[String]) {
    let fleet = Fleet::new(addrs.to_vec(), 1).expect("fleet");
    for i in 0..addrs.len() {
        let on_node = |k: &String| {
            placement::replicas(&fleet, DOMAIN, shard_for(k.as_bytes(), SHARDS)) == [i]
        };
        assert!(keys.iter().any(on_node), "no key on node {i}");
    }
}

#[tokio::test]
async fn a_node_lacking_the_newer_version_moves_the_whole_multi_get_to_its_own() {
    // Node 0 swapped to v2 (and still holds v1); node 1 holds only v1 and answers
    // later, so the first answer names v2 and node 1 then refuses v2. Whichever
    // part answers first, every value must come from v1.
    let addrs = fleet(&[(&["v2", "v1"], 0), (&["v1"], 100)]).await;
    let keys = keys();
    assert_spans(&addrs, &keys);
    let client = Client::builder().seeds(&addrs).build().expect("client");
    let got = client.multi_get(DOMAIN, &keys).await.expect("multi_get");
    assert_eq!(got.version, "v1");
    for (key, value) in keys.iter().zip(&got.values) {
        assert_eq!(value.as_deref(), Some(format!("v1:{key}").as_bytes()));
    }
    assert!(client.stats().version_rounds >= 1, "{:?}", client.stats());
    // Pinned to v2, which node 1 lacks: refused, never moved to v1.
    let err = client
        .multi_get_at(DOMAIN, &keys, "v2")
        .await
        .expect_err("node 1 lacks v2");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    // Gets answer from the version each key's node serves.
    for key in &keys[..8] {
        let got = client.get(DOMAIN, key).await.expect("get");
        let expected = format!("{}:{key}", got.version);
        assert_eq!(got.value.as_deref(), Some(expected.as_bytes()));
    }
}

#[tokio::test]
async fn nodes_sharing_no_version_end_in_an_error_naming_both() {
    let addrs = fleet(&[(&["v2"], 0), (&["v1"], 0)]).await;
    let keys = keys();
    assert_spans(&addrs, &keys);
    let client = Client::builder().seeds(&addrs).build().expect("client");
    let err = client
        .multi_get(DOMAIN, &keys)
        .await
        .expect_err("no common version");
    assert!(matches!(err, ClientError::NoCommonVersion { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("v1") && text.contains("v2"), "{text}");
    assert_eq!(client.stats().version_rounds, 3, "{:?}", client.stats());
}
