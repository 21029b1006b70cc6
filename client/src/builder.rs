//! [`ClientBuilder`]: the settings of a [`Client`], checked without I/O.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::{Counters, Shared};
use crate::hedge::HedgeBudget;
use crate::route::DownList;
use crate::topology::Topology;
use crate::{Client, ClientError, NodeOptions, Pool, TlsOptions};

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
    max_batch: usize,
    tls: Option<TlsOptions>,
}

/// Default most keys per MultiGet request to one node (the servers' default
/// `max_batch`).
pub const DEFAULT_MAX_BATCH: usize = 10_000;

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
            max_batch: DEFAULT_MAX_BATCH,
            tls: None,
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

    /// Sends a call to the next candidate too when the current attempt has not
    /// answered after `delay` (for a MultiGet: the unanswered keys, each to its
    /// next candidate, once per round); the first good answer wins and the other
    /// RPC is cancelled. Default off.
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

    /// Most keys sent to one node in one MultiGet request; a larger part is split
    /// into several requests. Default 10 000, the servers' default `max_batch`:
    /// set it to the fleet's `max_batch` if that is lower.
    pub fn max_batch(mut self, keys: usize) -> Self {
        self.max_batch = keys;
        self
    }

    /// Speaks TLS to every node (mTLS when `options` has an identity): seeds and
    /// the nodes the fleet reports, given as `host:port`, are dialled over TLS.
    /// Default: plaintext (an `https://` seed is then refused).
    pub fn tls(mut self, options: TlsOptions) -> Self {
        self.tls = Some(options);
        self
    }

    /// Checks the settings and builds the client. No I/O: nodes are connected on
    /// first use.
    pub fn build(self) -> Result<Client, ClientError> {
        let seeds = validate_seeds(&self.seeds, self.tls.as_ref())?;
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
        if self.max_batch == 0 {
            return Err(ClientError::InvalidSetting {
                setting: "max_batch",
                detail: "must be at least 1".into(),
            });
        }
        let pool = Pool::new(NodeOptions {
            connect_timeout: self.connect_timeout,
            request_timeout: None,
            max_message_bytes: self.max_message_bytes,
            tls: self.tls.clone(),
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
                max_batch: self.max_batch,
            }),
        })
    }
}

/// The seeds, trimmed, when there is at least one and each is `host:port` or a
/// URI with a host and a port that can be dialled as `tls` says.
fn validate_seeds(seeds: &[String], tls: Option<&TlsOptions>) -> Result<Vec<String>, ClientError> {
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
            let uri: tonic::transport::Uri = crate::tls::plan(addr, tls)?
                .uri
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

    #[test]
    fn seeds_are_checked_against_the_tls_settings() {
        let err = Client::builder()
            .seeds(["https://127.0.0.1:7070"])
            .build()
            .expect_err("https without a CA");
        assert!(matches!(err, ClientError::Tls { .. }), "{err}");
        let tls = TlsOptions {
            ca: Some(b"pem".to_vec()),
            ..TlsOptions::default()
        };
        let err = Client::builder()
            .seeds(["http://127.0.0.1:7070"])
            .tls(tls)
            .build()
            .expect_err("http with TLS options");
        assert!(matches!(err, ClientError::Tls { .. }), "{err}");
    }
}
