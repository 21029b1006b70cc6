//! What the in-process scenarios share: the load's shape, a node started in this
//! process over a fresh local store, its client connections, and the Get request
//! every scenario sends.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tusk_client::Node;
use tusk_server::{RunningServer, Server, ServerConfig};
use tusk_store::Catalog;

use super::error::{FleetError, FleetResult};
use super::load::LoadOptions;
use super::version::{self, DOMAIN};
use crate::data::{KEY_LEN, VALUE_LEN, key, mix};

/// Records in every bench version.
pub const KEYS: usize = 100_000;
/// Shards of every bench version.
pub const SHARDS: u32 = 8;
/// Concurrent requests of the in-process scenarios.
pub const TASKS: usize = 32;
/// HTTP/2 connections those requests share (task `t` uses connection `t % 4`).
pub const CONNECTIONS: usize = 4;
/// Unrecorded load before each measured run.
pub const WARMUP: Duration = Duration::from_secs(1);
/// Longest wait for a node to serve a version.
const SERVE_TIMEOUT: Duration = Duration::from_secs(60);

/// One request of a load run: `Err` describes a failure or a wrong answer.
pub type Request = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// The load options of a measured run of `duration`.
pub fn load(duration: Duration) -> LoadOptions {
    LoadOptions {
        tasks: TASKS,
        warmup: WARMUP,
        duration,
    }
}

/// The keys a load asks for.
#[derive(Debug, Clone)]
pub enum KeySet {
    /// Every key of the version, uniformly.
    All(usize),
    /// Only these key indexes, uniformly.
    Only(Arc<Vec<u64>>),
}

impl KeySet {
    /// The key of request `i` of task `task`: the same sequence on every run.
    pub fn pick(&self, task: usize, i: u64) -> [u8; KEY_LEN] {
        match self {
            KeySet::All(n) => version::pick(task, i, *n),
            KeySet::Only(list) => {
                let r = mix(0x6f6e_6c79 ^ ((task as u64) << 40) ^ i);
                let at = ((u128::from(r) * list.len() as u128) >> 64) as usize;
                key(list[at])
            }
        }
    }
}

/// Hex of a key, for error messages.
pub fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tusk Get load over `nodes` (task `t` on `nodes[t % len]`): every answer must
/// find its key with a value of the bench's size.
pub fn tusk_get(
    nodes: Vec<Node>,
    keys: KeySet,
) -> impl Fn(usize, u64) -> Request + Send + Sync + 'static {
    move |task: usize, i: u64| -> Request {
        let node = nodes[task % nodes.len()].clone();
        let k = keys.pick(task, i);
        Box::pin(async move {
            let got = node
                .get(DOMAIN, &k, None)
                .await
                .map_err(|e| e.to_string())?;
            if !got.found || got.value.len() != VALUE_LEN {
                return Err(format!(
                    "key {} answered found={} with {} bytes (version {:?})",
                    hex(&k),
                    got.found,
                    got.value.len(),
                    got.version
                ));
            }
            Ok(())
        })
    }
}

/// [`CONNECTIONS`] separate connections to `addr`.
pub async fn connections(scenario: &'static str, addr: SocketAddr) -> FleetResult<Vec<Node>> {
    let mut nodes = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let node = Node::connect(&addr.to_string())
            .await
            .map_err(|source| FleetError::Client {
                scenario,
                what: format!("connecting to {addr}"),
                source: Box::new(source),
            })?;
        nodes.push(node);
    }
    Ok(nodes)
}

/// Waits until `node` answers a Get from `version` (at most a minute), asking
/// every 20 ms.
pub async fn wait_version(scenario: &'static str, node: &Node, version: &str) -> FleetResult<()> {
    wait_version_every(scenario, node, version, Duration::from_millis(20)).await
}

/// [`wait_version`], asking every `poll` (what a timing of the wait resolves).
pub async fn wait_version_every(
    scenario: &'static str,
    node: &Node,
    version: &str,
    poll: Duration,
) -> FleetResult<()> {
    let deadline = tokio::time::Instant::now() + SERVE_TIMEOUT;
    loop {
        let k = key(0);
        if let Ok(got) = node.get(DOMAIN, &k, None).await
            && got.version == version
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(FleetError::setup(
                scenario,
                format!("the node did not serve {version} within {SERVE_TIMEOUT:?}"),
            ));
        }
        tokio::time::sleep(poll).await;
    }
}

/// A temp dir with a local store holding version `v1` (active, [`KEYS`]
/// records), and the store.
pub async fn store_with_v1(parent: &Path) -> FleetResult<(TempDir, Catalog)> {
    store_with_keys(parent, KEYS).await
}

/// A temp dir with a local store holding version `v1` (active, `keys` records),
/// and the store.
pub async fn store_with_keys(parent: &Path, keys: usize) -> FleetResult<(TempDir, Catalog)> {
    let dir = tempfile::Builder::new()
        .prefix("tusk-fleetbench-")
        .tempdir_in(parent)
        .map_err(|source| FleetError::Io {
            what: "creating a temp dir in",
            path: parent.to_path_buf(),
            source,
        })?;
    let catalog = version::open_store(&dir.path().join("store"))?;
    let build = dir.path().join("build-v1");
    mkdir(&build)?;
    let manifest = version::build(&build, "v1", keys, SHARDS, 1)?;
    version::publish_and_activate(&catalog, &manifest, &build).await?;
    Ok((dir, catalog))
}

/// Creates `path`.
pub fn mkdir(path: &Path) -> FleetResult<()> {
    std::fs::create_dir_all(path).map_err(|source| FleetError::Io {
        what: "creating",
        path: path.to_path_buf(),
        source,
    })
}

/// The config of a lone node on 127.0.0.1:0 over `catalog`, data under `data`.
pub fn node_config(catalog: &Catalog, data: &Path, poll: Duration) -> ServerConfig {
    let mut config = ServerConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        data,
        &catalog.url(),
        &[DOMAIN],
    );
    config.poll_interval = poll;
    config
}

/// Starts `config` in this process and waits until it serves `v1`; returns the
/// node and [`CONNECTIONS`] connections to it.
pub async fn start_serving(
    scenario: &'static str,
    config: ServerConfig,
) -> FleetResult<(RunningServer, Vec<Node>)> {
    let server = Server::start(config)
        .await
        .map_err(|source| FleetError::Server {
            scenario,
            source: Box::new(source),
        })?;
    let nodes = connections(scenario, server.grpc_addr()).await?;
    wait_version(scenario, &nodes[0], "v1").await?;
    Ok((server, nodes))
}
