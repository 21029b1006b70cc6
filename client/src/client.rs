//! [`Client`]: reads routed over a fleet of tusk nodes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::call::{CallFailure, first_answer};
use crate::hedge::HedgeBudget;
use crate::route::{DownList, key_candidates};
use crate::topology::{Topology, TopologySnapshot};
use crate::{ClientBuilder, ClientError, Pool};

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
    /// Hedges sent because an attempt was slow (a MultiGet's hedge counts once
    /// even when it sends several requests).
    pub hedges: u64,
    /// MultiGet rounds asked again because parts answered from different
    /// versions (or a node lacked the version).
    pub version_rounds: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub failovers: AtomicU64,
    pub hedges: AtomicU64,
    pub version_rounds: AtomicU64,
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
    /// Most keys in one MultiGet request to one node.
    pub max_batch: usize,
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
    pub(crate) shared: Arc<Shared>,
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
            version_rounds: c.version_rounds.load(Ordering::Relaxed),
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
                value: reply.found.then_some(reply.value),
                version: reply.version.into(),
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

/// The error for a routed call that failed.
pub(crate) fn failure_error(
    failure: CallFailure,
    method: &'static str,
    domain: &str,
    keys: String,
    request_timeout: Duration,
) -> ClientError {
    match failure {
        CallFailure::Stopped { node, status } => ClientError::Refused {
            method,
            domain: domain.to_string(),
            keys,
            node,
            status,
        },
        CallFailure::Exhausted {
            tried,
            timed_out,
            last_code,
        } => ClientError::Exhausted {
            method,
            domain: domain.to_string(),
            keys,
            tried,
            timed_out: timed_out.then_some(request_timeout),
            last_code,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Client>();
        shareable::<Pool>();
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
