//! Server configuration: a TOML file or the CLI's flags, validated once.
//!
//! Every field, with its default, is in `server/server.example.toml` (the one
//! example: `tusk serve --help` prints it and a test parses it against the
//! `DEFAULT_*` constants below).
//!
//! Sizes are a TOML integer (bytes) or a string with a unit: binary `KiB`, `MiB`,
//! `GiB`, `TiB` or decimal `kB`, `MB`, `GB`, `TB` (`"512KiB"`, `"100MB"`,
//! `"1.5GiB"`; `"100MiB/s"` is accepted for the rate).

mod duration;
mod size;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use duration::parse_scrub_interval;
pub use size::{format_size, parse_size};

/// Default gRPC listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";
/// Default interval between two polls of a domain's `CURRENT`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Default number of complete versions kept on local disk per domain.
pub const DEFAULT_KEEP_VERSIONS: usize = 2;
/// Default number of nodes holding each shard in a `[cluster]`.
pub const DEFAULT_REPLICATION: usize = 1;
/// Default time one forwarded request may take before the next replica is asked.
pub const DEFAULT_FORWARD_TIMEOUT: Duration = Duration::from_secs(1);
/// Default largest number of keys in one MultiGet.
pub const DEFAULT_MAX_BATCH: usize = 10_000;
/// Default largest key length in bytes (the shard format's limit).
pub const DEFAULT_MAX_KEY_LEN: usize = tusk_format::MAX_KEY_LEN;
/// Default number of ranged GETs in flight at once across the server.
pub const DEFAULT_DOWNLOAD_CONCURRENCY: usize = 4;
/// Default bytes per ranged GET (also the unit a download resumes from).
pub const DEFAULT_DOWNLOAD_CHUNK_SIZE: u64 = tusk_store::DEFAULT_CHUNK_SIZE;
/// Smallest accepted `download_chunk_size` (smaller chunks only add requests and
/// resume bookkeeping).
pub const MIN_DOWNLOAD_CHUNK_SIZE: u64 = 4096;
/// Default wait before retrying a version whose load failed, while `CURRENT`
/// still names it.
pub const DEFAULT_RETRY_FAILED_AFTER: Duration = Duration::from_secs(30);
/// Default pause between two scrub rounds over every served shard.
pub const DEFAULT_SCRUB_INTERVAL: Duration = Duration::from_secs(3600);
/// Default bytes per second the scrubber re-reads (whole server).
pub const DEFAULT_SCRUB_RATE: u64 = 32 << 20;
/// Default largest gRPC message, each way (64 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Errors reading or validating a configuration. Each names where it comes from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML does not parse or does not match the schema (unknown key, wrong type).
    #[error("{origin}{}: {detail}", location(*.line, *.column))]
    Parse {
        /// The file (or other origin) of the text.
        origin: String,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
        /// The parser's message (names the field or key).
        detail: String,
    },
    /// The configuration parses but cannot be used.
    #[error("{origin}: invalid {field}: {detail}")]
    Invalid {
        /// The file (or other origin).
        origin: String,
        /// The offending field, e.g. `domains[1].name`.
        field: String,
        /// Why.
        detail: String,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// One domain served by this node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Domain name (`[A-Za-z0-9._-]`, 1–128 characters).
    pub name: String,
    /// Store URL: `s3://bucket/prefix`, `file:///path` or a bare path.
    pub store: String,
}

/// The fleet this node belongs to (`[cluster]` in the TOML). Absent: the node runs
/// alone and holds every shard.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Every node of the fleet, as clients dial it (`"10.0.0.1:7070"`); the same
    /// list, in any order, on every node.
    pub nodes: Vec<String>,
    /// This node's own entry in `nodes`.
    #[serde(rename = "self")]
    pub self_node: String,
    /// How many nodes hold each shard (1 up to the number of nodes).
    #[serde(default = "default_replication")]
    pub replication: usize,
    /// How long one forwarded request may take before the next replica is asked.
    #[serde(
        default = "default_forward_timeout",
        deserialize_with = "duration::duration"
    )]
    pub forward_timeout: Duration,
    /// CA certificate (PEM path) that peers' certificates must chain to when this
    /// node forwards over TLS; absent: `tls_client_ca` is trusted. Needs `tls_cert`.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
}

impl ClusterConfig {
    /// The fleet these settings describe, or why they do not describe one.
    pub fn fleet(&self) -> Result<tusk_format::placement::Fleet, String> {
        let fleet = tusk_format::placement::Fleet::new(self.nodes.clone(), self.replication)
            .map_err(|e| e.to_string())?;
        if !self.nodes.contains(&self.self_node) {
            return Err(format!(
                "self {:?} is not one of the nodes ({})",
                self.self_node,
                self.nodes.join(", ")
            ));
        }
        Ok(fleet)
    }
}

/// Everything a node needs to run. Fields are public so the CLI can build one from
/// flags ([`ServerConfig::new`]); call [`ServerConfig::validate`] afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// gRPC listen address; port 0 picks a free port.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory holding downloaded versions: `<data_dir>/<domain>/<version>/`.
    pub data_dir: PathBuf,
    /// Interval between two polls of `CURRENT` (humantime: `"5s"`, `"250ms"`).
    #[serde(
        default = "default_poll_interval",
        deserialize_with = "duration::duration"
    )]
    pub poll_interval: Duration,
    /// Complete versions kept on local disk per domain (at least 1; the served one
    /// is always kept). The newest two of them are also kept open in memory.
    #[serde(default = "default_keep_versions")]
    pub keep_versions: usize,
    /// Address of the Prometheus `/metrics` endpoint; none when absent.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Largest number of keys in one MultiGet.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Largest key length in bytes.
    #[serde(default = "default_max_key_len")]
    pub max_key_len: usize,
    /// Ranged GETs in flight at once across the whole server (all domains, all
    /// shards), so downloads never take every connection; also the most shards of
    /// one domain downloaded at once.
    #[serde(default = "default_download_concurrency")]
    pub download_concurrency: usize,
    /// Most bytes per second downloaded by the whole server (all domains), so a
    /// download never starves serving: a TOML integer or a size string such as
    /// `"100MiB"` (`MiB` = 2^20 bytes, `MB` = 10^6). No limit when absent.
    #[serde(default, deserialize_with = "size::optional_size")]
    pub download_rate_limit: Option<u64>,
    /// Bytes per ranged GET, and the unit an interrupted download resumes from
    /// (an integer or a size string such as `"8MiB"`).
    #[serde(
        default = "default_download_chunk_size",
        deserialize_with = "size::size"
    )]
    pub download_chunk_size: u64,
    /// Wait before retrying a version that failed verification (bad checksum,
    /// unusable shard) while `CURRENT` still names it (a changed `CURRENT` is tried
    /// at the next poll regardless). An interrupted download (network, timeout,
    /// throttling) is instead retried with exponential backoff from 1 s, doubling up
    /// to this value, and resumes from what is already on disk.
    #[serde(
        default = "default_retry_failed_after",
        deserialize_with = "duration::duration"
    )]
    pub retry_failed_after: Duration,
    /// Largest gRPC message, each way.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Pause between two rounds in which the scrubber re-reads every served shard
    /// and compares it with its manifest (`"1h"`; `"off"` or zero: no rounds). A
    /// damaged shard is downloaded again and swapped in. Shards reopened from disk
    /// at start and shards a read found damaged are checked regardless.
    #[serde(
        default = "default_scrub_interval",
        deserialize_with = "duration::scrub_interval"
    )]
    pub scrub_interval: Duration,
    /// Most bytes per second the scrubber re-reads (whole server), so it never
    /// competes with serving: an integer or a size string such as `"32MiB"`.
    #[serde(default = "default_scrub_rate", deserialize_with = "size::size")]
    pub scrub_rate: u64,
    /// The fleet this node belongs to; `None`: the node runs alone.
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
    /// This node's TLS certificate chain (PEM path); with `tls_key`, gRPC is served
    /// over TLS only (the metrics endpoint stays plain HTTP). Also presented to
    /// peers when forwarding.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM path).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// CA certificate (PEM path): clients must present a certificate chaining to it
    /// (mTLS). Needs `tls_cert`.
    #[serde(default)]
    pub tls_client_ca: Option<PathBuf>,
    /// The domains to serve.
    #[serde(default)]
    pub domains: Vec<DomainConfig>,
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .expect("DEFAULT_LISTEN is a valid socket address")
}
fn default_poll_interval() -> Duration {
    DEFAULT_POLL_INTERVAL
}
fn default_keep_versions() -> usize {
    DEFAULT_KEEP_VERSIONS
}
fn default_forward_timeout() -> Duration {
    DEFAULT_FORWARD_TIMEOUT
}
fn default_replication() -> usize {
    DEFAULT_REPLICATION
}
fn default_max_batch() -> usize {
    DEFAULT_MAX_BATCH
}
fn default_max_key_len() -> usize {
    DEFAULT_MAX_KEY_LEN
}
fn default_download_concurrency() -> usize {
    DEFAULT_DOWNLOAD_CONCURRENCY
}
fn default_download_chunk_size() -> u64 {
    DEFAULT_DOWNLOAD_CHUNK_SIZE
}
fn default_retry_failed_after() -> Duration {
    DEFAULT_RETRY_FAILED_AFTER
}
fn default_max_message_bytes() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}
fn default_scrub_interval() -> Duration {
    DEFAULT_SCRUB_INTERVAL
}
fn default_scrub_rate() -> u64 {
    DEFAULT_SCRUB_RATE
}

impl ServerConfig {
    /// A configuration with every default, for the CLI's one-node flags
    /// (`--store URL --domain NAME ...`): each domain reads from `store`.
    pub fn new(
        listen: SocketAddr,
        data_dir: impl Into<PathBuf>,
        store: &str,
        domains: &[&str],
    ) -> ServerConfig {
        ServerConfig {
            listen,
            data_dir: data_dir.into(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            keep_versions: DEFAULT_KEEP_VERSIONS,
            metrics_listen: None,
            max_batch: DEFAULT_MAX_BATCH,
            max_key_len: DEFAULT_MAX_KEY_LEN,
            download_concurrency: DEFAULT_DOWNLOAD_CONCURRENCY,
            download_rate_limit: None,
            download_chunk_size: DEFAULT_DOWNLOAD_CHUNK_SIZE,
            retry_failed_after: DEFAULT_RETRY_FAILED_AFTER,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            scrub_interval: DEFAULT_SCRUB_INTERVAL,
            scrub_rate: DEFAULT_SCRUB_RATE,
            cluster: None,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            domains: domains
                .iter()
                .map(|name| DomainConfig {
                    name: (*name).to_string(),
                    store: store.to_string(),
                })
                .collect(),
        }
    }

    /// Parses and validates TOML `text`; `origin` (usually the file path) names the
    /// text in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<ServerConfig, ConfigError> {
        let config: ServerConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = line_col(text, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            ConfigError::Parse {
                origin: origin.to_string(),
                line,
                column,
                detail: e.message().trim().to_string(),
            }
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Reads, parses and validates the TOML file at `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ServerConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        ServerConfig::from_toml_str(&text, &path.display().to_string())
    }

    /// Checks the rules a parsed or hand-built configuration must meet: at least one
    /// domain, valid and unique domain names, non-empty store URLs, positive limits.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: &str, detail: String| ConfigError::Invalid {
            origin: origin.to_string(),
            field: field.to_string(),
            detail,
        };
        if self.domains.is_empty() {
            return Err(invalid(
                "domains",
                "at least one domain is required ([[domains]] name = ..., store = ...)".into(),
            ));
        }
        for (i, d) in self.domains.iter().enumerate() {
            tusk_store::keys::validate_domain(&d.name)
                .map_err(|e| invalid(&format!("domains[{i}].name"), e.to_string()))?;
            if self.domains[..i].iter().any(|other| other.name == d.name) {
                return Err(invalid(
                    &format!("domains[{i}].name"),
                    format!("domain {:?} is listed twice", d.name),
                ));
            }
            if d.store.trim().is_empty() {
                return Err(invalid(
                    &format!("domains[{i}].store"),
                    "store URL is empty".into(),
                ));
            }
        }
        let positive = [
            ("keep_versions", self.keep_versions),
            ("max_batch", self.max_batch),
            ("max_key_len", self.max_key_len),
            ("download_concurrency", self.download_concurrency),
            ("max_message_bytes", self.max_message_bytes),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(field, "must be at least 1".into()));
            }
        }
        if self.download_rate_limit == Some(0) {
            return Err(invalid(
                "download_rate_limit",
                "must be at least 1 byte per second (leave it out for no limit)".into(),
            ));
        }
        if self.download_chunk_size < MIN_DOWNLOAD_CHUNK_SIZE {
            return Err(invalid(
                "download_chunk_size",
                format!("must be at least {MIN_DOWNLOAD_CHUNK_SIZE} bytes (4KiB)"),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(invalid("poll_interval", "must be greater than zero".into()));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "is empty".into()));
        }
        if let Some(cluster) = &self.cluster {
            let field = if cluster.nodes.contains(&cluster.self_node) || cluster.nodes.is_empty() {
                "cluster"
            } else {
                "cluster.self"
            };
            cluster.fleet().map_err(|detail| invalid(field, detail))?;
        }
        self.validate_tls(origin)
    }

    /// The TLS fields go together: cert and key both or neither; a client CA or a
    /// peer CA only with them; a TLS fleet needs a CA to trust its peers. The files
    /// themselves are read at start.
    fn validate_tls(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: &str, detail: &str| ConfigError::Invalid {
            origin: origin.to_string(),
            field: field.to_string(),
            detail: detail.to_string(),
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(_), Some(_)) => true,
            (None, None) => false,
            (Some(_), None) => return Err(invalid("tls_key", "tls_cert is set but not tls_key")),
            (None, Some(_)) => return Err(invalid("tls_cert", "tls_key is set but not tls_cert")),
        };
        if !tls && self.tls_client_ca.is_some() {
            return Err(invalid(
                "tls_client_ca",
                "needs tls_cert and tls_key (mTLS is TLS that also checks the client)",
            ));
        }
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        if !tls && cluster.tls_ca.is_some() {
            return Err(invalid("cluster.tls_ca", "needs tls_cert and tls_key"));
        }
        let has_peers = cluster.nodes.iter().any(|n| *n != cluster.self_node);
        if tls && has_peers && cluster.tls_ca.is_none() && self.tls_client_ca.is_none() {
            return Err(invalid(
                "cluster.tls_ca",
                "a TLS fleet forwards over TLS: set cluster.tls_ca (or tls_client_ca) \
                 to the CA that signs the nodes' certificates",
            ));
        }
        Ok(())
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
