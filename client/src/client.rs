//! [`Client`]: reads routed over a fleet of tusk nodes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tusk_format::partition::shard_for;

use crate::call::{Failure, first_answer};
use crate::hedge::HedgeBudget;
use crate::route::{DownList, candidates};
use crate::topology::{Topology, TopologySnapshot, View};
use crate::{ClientError, NodeOptions, Pool};

/// The answer to [`Client::get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    /// The value; `None` when the key is absent from the version.
    pub value: Option<Bytes>,
    /// The version that answered.
    pub version: String,
}

/// The answer to [`Client::multi_get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiGot {
    /// `values[i]` answers `keys[i]`; `None` when the key is absent.
    pub values: Vec<Option<Bytes>>,
    /// The one version that answered every key.
    pub version: String,
}

/// Counters of a [`Client`] since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Calls made (`get`, `multi_get` and their `_at` forms).
    pub requests: u64,
    /// Attempts sent to another node after one failed.
    pub failovers: u64,
    /// Hedged attempts sent because one was slow.
    pub hedges: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub failovers: AtomicU64,
    pub hedges: AtomicU64,
}

/// What every clone of a [`Client`] shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub pool: Pool,
    pub topology: Topology,
    pub down: DownList,
    pub budget: Mutex<HedgeBudget>,
    pub stats: Counters,
    pub attempt_timeout: Duration,
    pub request_timeout: Duration,
    pub hedge: Option<Duration>,
}

/// Settings of a [`Client`]; from [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    seeds: Vec<String>,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    request_timeout: Duration,
    hedge: Option<Duration>,
    hedge_budget: f64,
    refresh_interval: Duration,
    max_message_bytes: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            seeds: Vec::new(),
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            hedge: None,
            hedge_budget: 0.05,
            refresh_interval: Duration::from_secs(10),
            max_message_bytes: crate::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

impl ClientBuilder {
    /// Nodes to learn the fleet from (`host:port` or URIs), tried in order; at
    /// least one is required.
    pub fn seeds<S: AsRef<str>>(mut self, seeds: impl IntoIterator<Item = S>) -> Self {
        self.seeds = seeds.into_iter().map(|s| s.as_ref().to_string()).collect();
        self
    }

    /// Time allowed to connect to a node. Default 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed to one attempt on one node before trying the next. Default 1 s.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Time allowed to a whole call, failovers included. Default 5 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sends a `get` to the next candidate too when the current attempt has not
    /// answered after `delay`; the first good answer wins. Default off.
    pub fn hedge(mut self, delay: Duration) -> Self {
        self.hedge = Some(delay);
        self
    }

    /// The largest fraction of calls that may hedge (0 to 1). Default 0.05.
    pub fn hedge_budget(mut self, fraction: f64) -> Self {
        self.hedge_budget = fraction;
        self
    }

    /// How old the client's view of the fleet may get before a call refreshes it.
    /// Default 10 s.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Largest gRPC message sent or received. Default 64 MiB.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Checks the settings and builds the client. No I/O: nodes are connected on
    /// first use.
    pub fn build(self) -> Result<Client, ClientError> {
        let seeds = validate_seeds(&self.seeds)?;
        if !(0.0..=1.0).contains(&self.hedge_budget) {
            return Err(ClientError::InvalidSetting {
                setting: "hedge_budget",
                detail: format!("{} is not a fraction between 0 and 1", self.hedge_budget),
            });
        }
        for (setting, value) in [
            ("connect_timeout", self.connect_timeout),
            ("attempt_timeout", self.attempt_timeout),
            ("request_timeout", self.request_timeout),
            ("refresh_interval", self.refresh_interval),
        ] {
            if value.is_zero() {
                return Err(ClientError::InvalidSetting {
                    setting,
                    detail: "must be greater than zero".into(),
                });
            }
        }
        let pool = Pool::new(NodeOptions {
            connect_timeout: self.connect_timeout,
            request_timeout: None,
            max_message_bytes: self.max_message_bytes,
        });
        let topology = Topology::new(
            seeds,
            pool.clone(),
            self.attempt_timeout,
            self.refresh_interval,
        );
        Ok(Client {
            shared: Arc::new(Shared {
                pool,
                topology,
                down: DownList::default(),
                budget: Mutex::new(HedgeBudget::new(self.hedge_budget)),
                stats: Counters::default(),
                attempt_timeout: self.attempt_timeout,
                request_timeout: self.request_timeout,
                hedge: self.hedge,
            }),
        })
    }
}

/// The seeds, trimmed, when there is at least one and each is `host:port` or a
/// URI with a host and a port.
fn validate_seeds(seeds: &[String]) -> Result<Vec<String>, ClientError> {
    if seeds.is_empty() {
        return Err(ClientError::InvalidSetting {
            setting: "seeds",
            detail: "at least one seed address is required".into(),
        });
    }
    seeds
        .iter()
        .map(|seed| {
            let addr = seed.trim();
            let invalid = |detail: &str| ClientError::InvalidAddress {
                addr: seed.clone(),
                detail: detail.to_string(),
            };
            let uri: tonic::transport::Uri = crate::node::normalize_addr(addr)
                .parse()
                .map_err(|e: tonic::codegen::http::uri::InvalidUri| invalid(&e.to_string()))?;
            if uri.host().is_none_or(str::is_empty) {
                return Err(invalid("no host"));
            }
            if uri.port_u16().is_none() {
                return Err(invalid("no port"));
            }
            Ok(addr.to_string())
        })
        .collect()
}

/// Reads routed over a fleet: each key goes to a node holding its shard (learned
/// from the nodes' Topology answers and rendezvous placement), failing over to
/// the next replica, then to any node. Cheap to clone; clones share connections,
/// the fleet view and the counters.
///
/// ```no_run
/// # async fn demo() -> Result<(), tusk_client::ClientError> {
/// let client = tusk_client::Client::builder()
///     .seeds(["10.0.0.1:7070", "10.0.0.2:7070"])
///     .build()?;
/// let got = client.get("pages", b"home").await?;
/// println!("{:?} from version {}", got.value, got.version);
/// let many = client.multi_get("pages", &[b"a", b"b"]).await?;
/// assert_eq!(many.values.len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// Settings with every default; set `seeds`, then [`ClientBuilder::build`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The channels to the fleet's nodes (shared by every clone).
    pub fn pool(&self) -> &Pool {
        &self.shared.pool
    }

    /// Counters since the client was built.
    pub fn stats(&self) -> ClientStats {
        let c = &self.shared.stats;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            failovers: c.failovers.load(Ordering::Relaxed),
            hedges: c.hedges.load(Ordering::Relaxed),
        }
    }

    /// What the client last learned of the fleet (`None` before the first call
    /// or [`Client::refresh_topology`]).
    pub fn topology_snapshot(&self) -> Option<TopologySnapshot> {
        self.shared.topology.peek().map(|v| v.snapshot())
    }

    /// Asks the fleet for its topology now and returns the new view.
    pub async fn refresh_topology(&self) -> Result<TopologySnapshot, ClientError> {
        self.shared.topology.mark_stale();
        Ok(self.shared.topology.view().await?.snapshot())
    }

    /// Looks up `key` in the version the fleet serves for `domain`.
    pub async fn get(&self, domain: &str, key: impl AsRef<[u8]>) -> Result<Got, ClientError> {
        self.get_inner(domain, key.as_ref(), None).await
    }

    /// Looks up `key` in `version` of `domain`.
    pub async fn get_at(
        &self,
        domain: &str,
        key: impl AsRef<[u8]>,
        version: &str,
    ) -> Result<Got, ClientError> {
        self.get_inner(domain, key.as_ref(), Some(version)).await
    }

    /// Looks up every key of `keys` in one version of `domain` (the one the first
    /// node to answer serves); `values[i]` answers `keys[i]`.
    pub async fn multi_get<K: AsRef<[u8]>>(
        &self,
        domain: &str,
        keys: &[K],
    ) -> Result<MultiGot, ClientError> {
        self.multi_inner(domain, keys, None).await
    }

    /// Looks up every key of `keys` in `version` of `domain`.
    pub async fn multi_get_at<K: AsRef<[u8]>>(
        &self,
        domain: &str,
        keys: &[K],
        version: &str,
    ) -> Result<MultiGot, ClientError> {
        self.multi_inner(domain, keys, Some(version)).await
    }

    /// Counts a call (for the hedge budget) and returns its deadline.
    fn start(&self) -> Instant {
        self.shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.shared
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .on_request();
        Instant::now() + self.shared.request_timeout
    }

    async fn get_inner(
        &self,
        domain: &str,
        key: &[u8],
        version: Option<&str>,
    ) -> Result<Got, ClientError> {
        let deadline = self.start();
        let view = self.shared.topology.view().await?;
        let order = key_candidates(&view, &self.shared.down, domain, key, version);
        let addrs: Vec<String> = order
            .iter()
            .map(|&i| view.fleet.nodes()[i].clone())
            .collect();
        let answer = first_answer(&self.shared, &addrs, deadline, |node| async move {
            node.get(domain, key, version).await
        })
        .await;
        let describe_key = || format!("key {:?}", String::from_utf8_lossy(key));
        match answer {
            Ok((_, reply)) => Ok(Got {
                value: reply.found.then(|| Bytes::from(reply.value)),
                version: reply.version,
            }),
            Err(failure) => Err(failure_error(
                failure,
                "Get",
                domain,
                describe_key(),
                self.shared.request_timeout,
            )),
        }
    }

    async fn multi_inner<K: AsRef<[u8]>>(
        &self,
        domain: &str,
        keys: &[K],
        version: Option<&str>,
    ) -> Result<MultiGot, ClientError> {
        let deadline = self.start();
        let view = self.shared.topology.view().await?;
        let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.as_ref().to_vec()).collect();
        crate::fanout::multi_get(&self.shared, &view, domain, &keys, version, deadline).await
    }
}

/// The order to try the fleet's nodes in for `key`: the shard is computed with
/// the shard count of `version` (or of the newest version the fleet serves).
pub(crate) fn key_candidates(
    view: &View,
    down: &DownList,
    domain: &str,
    key: &[u8],
    version: Option<&str>,
) -> Vec<usize> {
    let located = locate(view, domain, version);
    let shard = located.map(|(_, count)| shard_for(key, count.max(1)));
    shard_candidates(view, down, domain, located.map(|(v, _)| v), shard)
}

/// The version whose shard count places keys, with that count: `version` when a
/// node reported it, else the newest version the fleet serves (placement does not
/// depend on the version, only on the shard count).
pub(crate) fn locate<'a>(
    view: &'a View,
    domain: &str,
    version: Option<&'a str>,
) -> Option<(&'a str, u32)> {
    version
        .and_then(|v| view.shard_count(domain, v).map(|count| (v, count)))
        .or_else(|| view.newest_version(domain))
}

/// The candidates for `shard` of `version` (see [`crate::route`]).
pub(crate) fn shard_candidates(
    view: &View,
    down: &DownList,
    domain: &str,
    version: Option<&str>,
    shard: Option<u32>,
) -> Vec<usize> {
    let nodes = view.fleet.nodes();
    candidates(
        &view.fleet,
        domain,
        shard,
        |i| match (version, shard) {
            (Some(v), Some(s)) => view.holds(i, domain, v, s),
            _ => false,
        },
        |i| down.is_down(&nodes[i]),
    )
}

/// The error for a routed call that failed.
pub(crate) fn failure_error(
    failure: Failure,
    method: &'static str,
    domain: &str,
    keys: String,
    request_timeout: Duration,
) -> ClientError {
    match failure {
        Failure::Stopped { node, status } => ClientError::Refused {
            method,
            domain: domain.to_string(),
            keys,
            node,
            status,
        },
        Failure::Exhausted { tried, timed_out } => ClientError::Exhausted {
            method,
            domain: domain.to_string(),
            keys,
            tried,
            timed_out: timed_out.then_some(request_timeout),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_checked_without_io() {
        let err = Client::builder().build().expect_err("no seeds");
        assert!(
            matches!(
                err,
                ClientError::InvalidSetting {
                    setting: "seeds",
                    ..
                }
            ),
            "{err}"
        );
        for bad in ["not a uri", "127.0.0.1", "http://:7070"] {
            let err = Client::builder()
                .seeds(["127.0.0.1:7070", bad])
                .build()
                .expect_err(bad);
            match &err {
                ClientError::InvalidAddress { addr, .. } => assert_eq!(addr, bad),
                other => panic!("{bad}: {other}"),
            }
            assert!(err.to_string().contains(bad), "{err}");
        }
        // Nothing listens on these: build does not connect.
        let client = Client::builder()
            .seeds(["127.0.0.1:1", " http://127.0.0.1:2 "])
            .build()
            .expect("valid");
        assert!(client.pool().is_empty());
        assert!(client.topology_snapshot().is_none());
    }

    #[test]
    fn settings_are_checked() {
        let err = Client::builder()
            .seeds(["127.0.0.1:7070"])
            .hedge_budget(1.5)
            .build()
            .expect_err("not a fraction");
        assert!(err.to_string().contains("hedge_budget"), "{err}");
        let err = Client::builder()
            .seeds(["127.0.0.1:7070"])
            .attempt_timeout(Duration::ZERO)
            .build()
            .expect_err("zero");
        assert!(err.to_string().contains("attempt_timeout"), "{err}");
    }

    #[tokio::test]
    async fn no_reachable_seed_is_an_error_naming_each_seed() {
        let ports: Vec<u16> = (0..2)
            .map(|_| {
                let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                l.local_addr().expect("addr").port()
            })
            .collect();
        let seeds: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let client = Client::builder().seeds(&seeds).build().expect("valid");
        let err = client.get("d", b"k").await.expect_err("nothing listens");
        assert!(matches!(err, ClientError::NoTopology { .. }), "{err}");
        assert_eq!(err.code(), tonic::Code::Unavailable);
        for seed in &seeds {
            assert!(err.to_string().contains(seed.as_str()), "{err}");
        }
    }
}
