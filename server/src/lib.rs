//! The tusk server: polls each domain's `CURRENT` in its store, downloads and
//! verifies the shards this node owns, memory-maps them, swaps versions atomically
//! and answers `tusk.v1.Tusk` over gRPC, with `grpc.health.v1`, gRPC reflection
//! and Prometheus metrics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tusk_server::ServerError> {
//! use tusk_server::{Server, ServerConfig};
//!
//! let config = ServerConfig::from_file("tusk.toml")?;
//! let running = Server::start(config).await?;
//! println!("serving on {}", running.grpc_addr());
//! running.wait(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Data dir layout: `<data_dir>/<domain>/<version>/shard-00000.tsk ...` plus a copy
//! of the version's `MANIFEST.json`, written last once every owned shard is
//! downloaded and its CRC32 checked while it streamed in. At start, temp files and
//! partial versions are swept, except the partial download of the version `CURRENT`
//! names, which resumes from its verified chunks (`.part` files with
//! `.part.progress` sidecars). A node serves at once what it has: `CURRENT`'s version
//! if it is complete on local disk, else the newest complete local version while
//! `CURRENT`'s downloads. Reopening checks each file's size and record count against
//! the manifest (no checksum pass: the copy records that its download checked it);
//! the scrubber re-reads reopened shards in the background.
//!
//! Downloads share two server-wide limits, so they never starve serving:
//! `download_concurrency` ranged GETs in flight and `download_rate_limit` bytes per
//! second. An interrupted download is retried with exponential backoff (1 s,
//! doubling, up to `retry_failed_after`) while the previous version keeps serving.
//! Polling goes on during a download, and a download whose version `CURRENT` no
//! longer names is abandoned, never swapped in.
//!
//! The scrubber re-reads every served shard every `scrub_interval` at no more than
//! `scrub_rate` bytes per second (and at once a shard a read found damaged); a shard
//! that no longer matches its manifest is downloaded into a new file and swapped in.
#![deny(missing_docs)]

mod activity;
pub mod config;
mod data_dir;
mod domain;
pub mod error;
mod forward;
mod health;
mod http;
mod loaded;
mod loader;
mod local_shard;
pub mod map_limit;
mod metrics;
pub mod ownership;
pub mod page;
mod retry;
mod scrub;
mod service;
mod stamp;
mod status;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tusk_proto::v1::tusk_server::TuskServer;
use tusk_store::{Catalog, DownloadOptions, ObjectStore, RateLimiter, StoreError};

pub use config::{ConfigError, DomainConfig, ServerConfig};
pub use error::{LoadError, ReadError, ServerError};
pub use ownership::Ownership;

use crate::data_dir::DomainDir;
use crate::domain::Domain;
use crate::health::Health;
use crate::loader::{Loader, LoaderSettings};
use crate::metrics::Metrics;
use crate::scrub::{ScrubSettings, Scrubber};
use crate::service::{Limits, TuskService};
use crate::status::NodeFacts;

/// Entry point: starts a node.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Validates `config`, opens every store, binds the gRPC (and metrics) listeners
    /// and starts serving and loading in the background, holding every shard and
    /// opening each domain's store by its URL. Port 0 picks a free port: read it back
    /// with [`RunningServer::grpc_addr`]. Domains answer UNAVAILABLE until their
    /// first version is loaded. [`Server::builder`] changes the defaults.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        Server::builder(config).start().await
    }

    /// A server for `config` whose store opening can be changed before it starts.
    pub fn builder(config: ServerConfig) -> ServerBuilder {
        ServerBuilder {
            config,
            open_store: Box::new(|d| tusk_store::open_store(&d.store)),
        }
    }
}

/// Opens the store of one configured domain.
type OpenStore =
    Box<dyn Fn(&DomainConfig) -> Result<Arc<dyn ObjectStore>, StoreError> + Send + Sync>;

/// A server not started yet: [`Server::builder`], then [`ServerBuilder::start`].
pub struct ServerBuilder {
    config: ServerConfig,
    open_store: OpenStore,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// The function that opens each domain's store (default:
    /// [`tusk_store::open_store`] of its URL). Tests use it to wrap a store with
    /// fault injection; an embedding application can supply its own backend.
    pub fn open_store(
        mut self,
        open: impl Fn(&DomainConfig) -> Result<Arc<dyn ObjectStore>, StoreError> + Send + Sync + 'static,
    ) -> Self {
        self.open_store = Box::new(open);
        self
    }

    /// Starts the server; see [`Server::start`].
    pub async fn start(self) -> Result<RunningServer, ServerError> {
        let ServerBuilder { config, open_store } = self;
        config.validate("server config")?;
        // TLS files are read and checked (readable, PEM, key matching) before
        // anything binds, so a bad file fails the start naming its field and path.
        let tls = tls::load(&config, "server config")?;
        let mut grpc_server = tonic::transport::Server::builder();
        if let Some(tls) = &tls {
            grpc_server = grpc_server
                .tls_config(tls.server.clone())
                .map_err(|e| tls::identity_error(&config, "server config", &e))?;
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;

        let mut catalogs = Vec::with_capacity(config.domains.len());
        for d in &config.domains {
            let store = open_store(d).map_err(|source| ServerError::Store {
                domain: d.name.clone(),
                url: d.store.clone(),
                source,
            })?;
            catalogs.push(Catalog::new(store));
        }

        let grpc_listener = bind(config.listen, "grpc").await?;
        let grpc_addr = local_addr(&grpc_listener, config.listen, "grpc")?;
        let ownership = Arc::new(ownership(&config, grpc_addr)?);
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(bind(addr, "metrics").await?),
            None => None,
        };
        let metrics_addr = match (&metrics_listener, config.metrics_listen) {
            (Some(l), Some(addr)) => Some(local_addr(l, addr, "metrics")?),
            _ => None,
        };

        let metrics = Arc::new(Metrics::new());
        let scrub_wake = Arc::new(Notify::new());
        let domains: Arc<Vec<Arc<Domain>>> = Arc::new(
            config
                .domains
                .iter()
                .zip(&catalogs)
                .map(|(d, c)| {
                    metrics.register_domain(&d.name);
                    Arc::new(Domain::new(
                        &d.name,
                        &c.url(),
                        metrics.key_counters(&d.name),
                        Arc::clone(&scrub_wake),
                    ))
                })
                .collect(),
        );

        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health = Health::new(
            reporter,
            config.domains.iter().map(|d| d.name.clone()).collect(),
        )
        .await;

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tusk_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| ServerError::Reflection(e.to_string()))?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tusk_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| ServerError::Reflection(e.to_string()))?;

        let node = NodeFacts {
            ownership: Arc::clone(&ownership),
            listen_addr: grpc_addr,
            started: Instant::now(),
            started_at: SystemTime::now(),
        };
        let limits = Limits {
            max_key_len: config.max_key_len,
            max_batch: config.max_batch,
        };
        let forward_timeout = config
            .cluster
            .as_ref()
            .map_or(config::DEFAULT_FORWARD_TIMEOUT, |c| c.forward_timeout);
        let peer_tls = tls.map(|t| t.peers);
        let peers = forward::Peers::new(
            &ownership,
            forward_timeout,
            config.max_message_bytes,
            peer_tls,
        )
        .map_err(|detail| {
            ServerError::Config(ConfigError::Invalid {
                origin: "server config".into(),
                field: "cluster.nodes".into(),
                detail,
            })
        })?;
        let tusk = TuskServer::new(TuskService::new(
            Arc::clone(&domains),
            limits,
            Arc::clone(&metrics),
            node.clone(),
            peers,
        ))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);

        let (stop_tx, stop_rx) = watch::channel(false);
        let incoming = TcpIncoming::from(grpc_listener).with_nodelay(Some(true));
        let grpc_stop = stop_rx.clone();
        let grpc = tokio::spawn(async move {
            grpc_server
                .add_service(tusk)
                .add_service(health_service)
                .add_service(reflection_v1)
                .add_service(reflection_v1alpha)
                .serve_with_incoming_shutdown(incoming, wait_stop(grpc_stop))
                .await
        });
        let metrics_task = metrics_listener.map(|listener| {
            let observed = http::Observed {
                node: node.clone(),
                metrics: Arc::clone(&metrics),
                domains: Arc::clone(&domains),
                data_dir: config.data_dir.clone(),
            };
            tokio::spawn(http::serve_metrics(
                listener,
                observed,
                wait_stop(stop_rx.clone()),
            ))
        });

        let settings = LoaderSettings {
            poll_interval: config.poll_interval,
            keep_versions: config.keep_versions,
            download_concurrency: config.download_concurrency,
            retry_failed_after: config.retry_failed_after,
            download: download_options(&config),
        };
        let loaders = domains
            .iter()
            .zip(catalogs)
            .map(|(domain, catalog)| {
                let loader = Loader::new(
                    Arc::clone(domain),
                    catalog,
                    DomainDir::new(&config.data_dir, domain.name()),
                    Arc::clone(&ownership),
                    Arc::clone(&metrics),
                    health.clone(),
                    settings.clone(),
                );
                tokio::spawn(loader.run(stop_rx.clone()))
            })
            .collect();
        let scrubber = Scrubber::new(
            Arc::clone(&domains),
            ScrubSettings {
                interval: Some(config.scrub_interval).filter(|i| !i.is_zero()),
                rate: config.scrub_rate,
            },
            scrub_wake,
            Arc::clone(&metrics),
        );
        let scrubber = tokio::spawn(scrubber.run(stop_rx.clone()));
        tracing::info!(addr = %grpc_addr, metrics = ?metrics_addr, domains = config.domains.len(),
            node = %ownership.node(), nodes = ownership.fleet().nodes().len(),
            replication = ownership.fleet().replication(), topology = %ownership.fingerprint(),
            "tusk server started");

        Ok(RunningServer {
            grpc_addr,
            metrics_addr,
            stop: stop_tx,
            grpc,
            metrics: metrics_task,
            loaders,
            scrubber,
            health,
        })
    }

    /// Starts a node and runs it until `shutdown` resolves.
    pub async fn run(
        config: ServerConfig,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        Server::start(config).await?.wait(shutdown).await
    }
}

/// A started node.
#[derive(Debug)]
pub struct RunningServer {
    grpc_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    grpc: JoinHandle<Result<(), tonic::transport::Error>>,
    metrics: Option<JoinHandle<std::io::Result<()>>>,
    loaders: Vec<JoinHandle<()>>,
    scrubber: JoinHandle<()>,
    health: Health,
}

impl RunningServer {
    /// The bound gRPC address (the real port when configured with port 0).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The bound metrics address, when `metrics_listen` is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Stops loaders, lets in-flight requests finish, closes the listeners.
    pub async fn shutdown(self) {
        let _ = self.stop_all().await;
    }

    /// Runs until `signal` resolves (then shuts down gracefully) or the gRPC server
    /// fails.
    pub async fn wait(mut self, signal: impl Future<Output = ()>) -> Result<(), ServerError> {
        tokio::select! {
            _ = signal => self.stop_all().await,
            result = &mut self.grpc => {
                let _ = self.stop.send(true);
                flatten_grpc(result)
            }
        }
    }

    async fn stop_all(self) -> Result<(), ServerError> {
        tracing::info!("tusk server shutting down");
        self.health.all_not_serving().await;
        let _ = self.stop.send(true);
        for loader in self.loaders {
            let _ = loader.await;
        }
        let _ = self.scrubber.await;
        let grpc = flatten_grpc(self.grpc.await);
        let metrics = match self.metrics {
            Some(task) => match task.await {
                Ok(result) => result.map_err(ServerError::Metrics),
                Err(e) => Err(ServerError::Task {
                    task: "metrics",
                    detail: e.to_string(),
                }),
            },
            None => Ok(()),
        };
        grpc.and(metrics)
    }
}

fn flatten_grpc(
    joined: Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>,
) -> Result<(), ServerError> {
    match joined {
        Ok(result) => result.map_err(ServerError::Transport),
        Err(e) => Err(ServerError::Task {
            task: "grpc",
            detail: e.to_string(),
        }),
    }
}

/// This node's place in its fleet: `[cluster]`, or alone under its bound address.
fn ownership(config: &ServerConfig, grpc_addr: SocketAddr) -> Result<Ownership, ServerError> {
    let Some(cluster) = &config.cluster else {
        return Ok(Ownership::single(&grpc_addr.to_string()));
    };
    let invalid = |detail: String| {
        ServerError::Config(ConfigError::Invalid {
            origin: "server config".into(),
            field: "cluster".into(),
            detail,
        })
    };
    let fleet = cluster.fleet().map_err(invalid)?;
    Ownership::new(fleet, &cluster.self_node)
        .ok_or_else(|| invalid(format!("self {:?} is not a node", cluster.self_node)))
}

/// The download settings every domain shares: one limiter of ranged GETs in flight
/// and one byte-rate limiter (burst: one chunk) for the whole server.
fn download_options(config: &ServerConfig) -> DownloadOptions {
    DownloadOptions {
        chunk_size: config.download_chunk_size,
        parallel_ranges: config.download_concurrency,
        rate_limiter: config
            .download_rate_limit
            .map(|rate| Arc::new(RateLimiter::new(rate, config.download_chunk_size))),
        range_permits: Some(Arc::new(Semaphore::new(
            config.download_concurrency.min(Semaphore::MAX_PERMITS),
        ))),
    }
}

async fn bind(addr: SocketAddr, what: &'static str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, what, source })
}

fn local_addr(
    listener: &TcpListener,
    addr: SocketAddr,
    what: &'static str,
) -> Result<SocketAddr, ServerError> {
    listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, what, source })
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_crashed_grpc_task_is_reported_as_such() {
        let crashed = tokio::spawn(async {
            panic!("boom");
            #[allow(unreachable_code)]
            Ok::<(), tonic::transport::Error>(())
        })
        .await;
        let err = flatten_grpc(crashed).expect_err("a panicked task is an error");
        assert!(
            matches!(err, ServerError::Task { task: "grpc", .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.starts_with("grpc task ended abnormally"), "{text}");
        assert!(!text.contains("metrics"), "{text}");
    }
}
