//! `floor`: Get throughput of one tusk node against the same gRPC stack (tonic,
//! same message limits, TCP_NODELAY) serving a `tusk.v1.Tusk` that answers every
//! Get at once with an empty `GetResponse`: what tusk's own work costs on top of
//! gRPC.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::{Request as Rpc, Response, Status};
use tusk_proto::v1::tusk_server::{Tusk, TuskServer};
use tusk_proto::v1::{
    GetRequest, GetResponse, MultiGetRequest, MultiGetResponse, StatusRequest, StatusResponse,
    TopologyRequest, TopologyResponse,
};
use tusk_server::config::DEFAULT_MAX_MESSAGE_BYTES;

use super::error::{FleetError, FleetResult};
use super::load::closed_loop;
use super::node::{self, KEYS, KeySet, Request};
use super::report::{Row, ScenarioReport};
use super::stats::{Want, ratio, verdict};
use super::version::DOMAIN;

/// tusk's Get throughput must be at least this share of the floor's.
pub const TARGET: f64 = 0.9;

/// The floor: a `tusk.v1.Tusk` that answers Get at once, empty.
#[derive(Debug, Clone, Copy)]
struct Floor;

#[tonic::async_trait]
impl Tusk for Floor {
    async fn get(&self, _request: Rpc<GetRequest>) -> Result<Response<GetResponse>, Status> {
        Ok(Response::new(GetResponse::default()))
    }

    async fn multi_get(
        &self,
        _request: Rpc<MultiGetRequest>,
    ) -> Result<Response<MultiGetResponse>, Status> {
        Err(Status::unimplemented("the floor answers Get only"))
    }

    async fn status(
        &self,
        _request: Rpc<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        Err(Status::unimplemented("the floor answers Get only"))
    }

    async fn topology(
        &self,
        _request: Rpc<TopologyRequest>,
    ) -> Result<Response<TopologyResponse>, Status> {
        Err(Status::unimplemented("the floor answers Get only"))
    }
}

/// A running reference server on 127.0.0.1.
pub(super) struct FloorServer {
    /// Its gRPC address.
    pub(super) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl FloorServer {
    /// Serves `service` (a reference `tusk.v1.Tusk`) on the current runtime with
    /// tusk-server's settings: the same message limits both ways and TCP_NODELAY
    /// on accepted sockets.
    pub(super) async fn start<T: Tusk>(service: T) -> FleetResult<FloorServer> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| FleetError::setup("floor", format!("binding 127.0.0.1:0: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| FleetError::setup("floor", format!("reading the bound address: {e}")))?;
        let service = TuskServer::new(service)
            .max_decoding_message_size(DEFAULT_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(DEFAULT_MAX_MESSAGE_BYTES);
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(FloorServer { addr, stop, task })
    }

    /// Stops serving and waits for the server task.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The floor's Get load: the same keys and connections layout as tusk's; the
/// empty answer is not checked.
fn floor_get(
    nodes: Vec<tusk_client::Node>,
    keys: KeySet,
) -> impl Fn(usize, u64) -> Request + Send + Sync + 'static {
    move |task: usize, i: u64| -> Request {
        let node = nodes[task % nodes.len()].clone();
        let k = keys.pick(task, i);
        Box::pin(async move {
            node.get(DOMAIN, &k, None)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}

/// Runs the scenario: tusk first, then the floor, each for `duration`.
pub async fn run(duration: Duration, parent: &Path) -> FleetResult<ScenarioReport> {
    let (dir, catalog) = node::store_with_v1(parent).await?;
    let config = node::node_config(&catalog, &dir.path().join("data"), Duration::from_secs(5));
    let (server, nodes) = node::start_serving("floor", config).await?;
    let tusk = closed_loop(
        node::load(duration),
        node::tusk_get(nodes, KeySet::All(KEYS)),
    )
    .await;
    server.shutdown().await;

    let floor = FloorServer::start(Floor).await?;
    let nodes = node::connections("floor", floor.addr).await?;
    let bare = closed_loop(node::load(duration), floor_get(nodes, KeySet::All(KEYS))).await;
    floor.stop().await;

    let r = ratio(Some(tusk.rps()), Some(bare.rps()));
    let errors = tusk.errors + bare.errors;
    let mut details = Vec::new();
    if errors > 0 {
        details.push(format!("{errors} errors: the verdict fails on any error"));
    }
    Ok(ScenarioReport {
        name: "floor",
        setup: format!(
            "Get, {KEYS} keys in {} shards (mmap), {} tasks over {} connections, {:.0} s each",
            node::SHARDS,
            node::TASKS,
            node::CONNECTIONS,
            duration.as_secs_f64()
        ),
        rows: vec![
            Row::of("tusk node Get", &tusk),
            Row::of("floor (empty answer) Get", &bare),
        ],
        ratio_what: "tusk rps / floor rps".into(),
        ratio: r,
        want: Want::AtLeast(TARGET),
        verdict: verdict(r, Want::AtLeast(TARGET), errors == 0),
        details,
    })
}
