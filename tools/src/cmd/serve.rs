//! `tusk serve`: run a server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::{Context, bail};
use tusk_server::config::{self, ConfigError};
use tusk_server::config::{parse_scrub_interval, parse_size};
use tusk_server::{Server, ServerConfig};

use super::addr::parse_listen;
use crate::output::outln;
use crate::runtime::block_on;

/// Serve domains over gRPC (tusk.v1.Tusk, grpc.health.v1, reflection) and Prometheus
/// metrics, following each domain's CURRENT version.
///
/// The server polls CURRENT, copies the shards it owns into the data dir (verified
/// against the manifest), memory-maps them and swaps atomically; a version that fails
/// verification is never served. On restart, versions already in the data dir are
/// reopened without copying. Stops gracefully on SIGINT/SIGTERM.
///
/// Either pass `--config FILE` (TOML) or `--store` and one or more `--domain`. Every
/// flag can also come from its TUSK_* variable (shown with each flag below); with
/// `--config` those variables are ignored (the file says it all), while the flags
/// themselves are refused. Addresses take
/// a host name (`localhost:7070`): it is resolved at start and the first IPv4
/// address it resolves to is used (else the first IPv6 one).
#[derive(Debug, clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  tusk serve --store ./store --domain pages --listen 127.0.0.1:7070 --data-dir ./data\n",
    "  tusk serve --config /etc/tusk/server.toml\n",
    "  tusk serve --store ./store --domain pages --tls-cert node.pem --tls-key node-key.pem\n\n",
    "Config file (every field, with its default):\n",
    include_str!("../../../server/server.example.toml"),
    "\nOnce listening, prints `serving on ADDR` (and `metrics on ADDR`) on stdout."
))]
pub struct Args {
    /// TOML config file; every other flag is then refused (the file says it all).
    #[arg(long, env = "TUSK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Store URL for the domains given with --domain.
    #[arg(long, env = "TUSK_STORE", value_name = "URL")]
    store: Option<String>,
    /// A domain to serve; repeatable, or a comma-separated list (`pages,users`).
    #[arg(
        long = "domain",
        env = "TUSK_DOMAIN",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    domains: Vec<String>,
    /// gRPC listen address, `host:port` (port 0 picks a free port).
    #[arg(long, env = "TUSK_LISTEN", default_value = tusk_server::config::DEFAULT_LISTEN, value_parser = parse_listen, value_name = "ADDR")]
    listen: SocketAddr,
    /// Directory holding local copies of shards.
    #[arg(
        long,
        env = "TUSK_DATA_DIR",
        default_value = "./tusk-data",
        value_name = "DIR"
    )]
    data_dir: PathBuf,
    /// How often to poll each domain's CURRENT pointer.
    #[arg(long, env = "TUSK_POLL_INTERVAL", default_value = DEFAULT_POLL_INTERVAL.as_str(), value_parser = positive_duration, value_name = "DURATION")]
    poll_interval: Duration,
    /// HTTP listen address, `host:port`, for Prometheus metrics (GET /metrics), health
    /// checks (/healthz, /readyz) and the status page (GET /, /status.json); off when
    /// not given.
    #[arg(long, env = "TUSK_METRICS_LISTEN", value_parser = parse_listen, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// How many versions of each domain to keep on local disk (for fast rollback).
    #[arg(long, env = "TUSK_KEEP_VERSIONS", default_value_t = tusk_server::config::DEFAULT_KEEP_VERSIONS, value_parser = at_least_one, value_name = "N")]
    keep_versions: usize,
    /// Most keys accepted in one MultiGet.
    #[arg(long, env = "TUSK_MAX_BATCH", default_value_t = tusk_server::config::DEFAULT_MAX_BATCH, value_parser = at_least_one, value_name = "N")]
    max_batch: usize,
    /// Most ranged GETs in flight across the server (also the shards of one domain
    /// downloaded at once), so downloads never take every connection.
    #[arg(long, env = "TUSK_DOWNLOAD_CONCURRENCY", default_value_t = tusk_server::config::DEFAULT_DOWNLOAD_CONCURRENCY, value_parser = at_least_one, value_name = "N")]
    download_concurrency: usize,
    /// Byte-rate limit for all downloads of the server, e.g. `100MiB` (per second); no
    /// limit when absent.
    #[arg(long, env = "TUSK_DOWNLOAD_RATE_LIMIT", value_parser = parse_size, value_name = "SIZE")]
    download_rate_limit: Option<u64>,
    /// Pause between two background re-reads of every served shard against its
    /// manifest (a damaged shard is downloaded again), e.g. `1h`; `off` for none.
    #[arg(long, env = "TUSK_SCRUB_INTERVAL", default_value = DEFAULT_SCRUB_INTERVAL.as_str(), value_parser = parse_scrub_interval, value_name = "DURATION")]
    scrub_interval: Duration,
    /// Byte-rate limit of those re-reads for the whole server, e.g. `32MiB` (per second).
    #[arg(long, env = "TUSK_SCRUB_RATE", default_value = DEFAULT_SCRUB_RATE.as_str(), value_parser = parse_size, value_name = "SIZE")]
    scrub_rate: u64,
    /// Serve gRPC over TLS with this certificate chain (PEM); needs --tls-key. The
    /// metrics endpoint stays plain HTTP.
    #[arg(long, env = "TUSK_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "TUSK_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mTLS. Needs --tls-cert.
    #[arg(
        long,
        env = "TUSK_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_client_ca: Option<PathBuf>,
}

/// The library's defaults as the flags' default texts (one truth, shown in `--help`).
static DEFAULT_POLL_INTERVAL: LazyLock<String> =
    LazyLock::new(|| humantime::format_duration(config::DEFAULT_POLL_INTERVAL).to_string());
static DEFAULT_SCRUB_INTERVAL: LazyLock<String> =
    LazyLock::new(|| humantime::format_duration(config::DEFAULT_SCRUB_INTERVAL).to_string());
static DEFAULT_SCRUB_RATE: LazyLock<String> =
    LazyLock::new(|| config::format_size(config::DEFAULT_SCRUB_RATE));

/// Every flag `--config` replaces: given on the command line with it, it would be
/// ignored, so it is refused, named ([`refuse_flags_beside_config`]; a test checks
/// this list covers every flag). From its `TUSK_*` variable it is ignored: an
/// operator's shell may export `TUSK_STORE` for the other commands.
const FLAGS_BESIDE_CONFIG: [&str; 15] = [
    "store",
    "domains",
    "listen",
    "data_dir",
    "poll_interval",
    "metrics_listen",
    "keep_versions",
    "max_batch",
    "download_concurrency",
    "download_rate_limit",
    "scrub_interval",
    "scrub_rate",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
];

/// Refuses a flag of [`FLAGS_BESIDE_CONFIG`] typed on the command line beside
/// `--config` (or `TUSK_CONFIG`), naming both; `cmd` is the `serve` command, for the
/// error's usage line. Values those flags take from their variables are ignored.
pub fn refuse_flags_beside_config(
    cmd: &mut clap::Command,
    matches: &clap::ArgMatches,
) -> Result<(), clap::Error> {
    use clap::parser::ValueSource;
    if matches.value_source("config").is_none() {
        return Ok(());
    }
    let config = match matches.value_source("config") {
        Some(ValueSource::EnvVariable) => "--config (from TUSK_CONFIG)",
        _ => "--config",
    };
    let typed: Vec<String> = FLAGS_BESIDE_CONFIG
        .iter()
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .map(|id| {
            let long = cmd
                .get_arguments()
                .find(|a| a.get_id() == *id)
                .and_then(|a| a.get_long())
                .unwrap_or(id);
            format!("--{long}")
        })
        .collect();
    if !typed.is_empty() {
        return Err(cmd.error(
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "{config} cannot be used with {}: the config file says it all",
                typed.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A count of at least 1 (`--keep-versions`, `--max-batch`, ...).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{text:?} is not a count: {e}")),
    }
}

/// A duration greater than zero (`--poll-interval`).
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be greater than zero".to_string()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{text:?}: {e}")),
    }
}

/// The flag a field of [`ServerConfig`] is set by here: `keep_versions` ->
/// `--keep-versions`, `domains[1].name` -> `--domain`.
fn flag_for_field(field: &str) -> String {
    if field.starts_with("domains") {
        if field.ends_with(".store") {
            return "--store".to_string();
        }
        return "--domain".to_string();
    }
    format!("--{}", field.replace('_', "-"))
}

/// A configuration error from flags, told in terms of the flags.
fn flag_error(err: ConfigError) -> anyhow::Error {
    match err {
        ConfigError::Invalid { field, detail, .. } => {
            anyhow::anyhow!("invalid {}: {detail}", flag_for_field(&field))
        }
        other => other.into(),
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => ServerConfig::from_file(path)?,
        None => {
            let Some(store) = args.store.clone() else {
                bail!("pass --config FILE, or --store URL with at least one --domain NAME");
            };
            if args.domains.is_empty() {
                bail!("pass at least one --domain NAME to serve from {store}");
            }
            let domains: Vec<&str> = args.domains.iter().map(String::as_str).collect();
            let mut config =
                ServerConfig::new(args.listen, args.data_dir.clone(), &store, &domains);
            config.poll_interval = args.poll_interval;
            config.metrics_listen = args.metrics_listen;
            config.keep_versions = args.keep_versions;
            config.max_batch = args.max_batch;
            config.download_concurrency = args.download_concurrency;
            config.download_rate_limit = args.download_rate_limit;
            config.scrub_interval = args.scrub_interval;
            config.scrub_rate = args.scrub_rate;
            config.tls_cert = args.tls_cert.clone();
            config.tls_key = args.tls_key.clone();
            config.tls_client_ca = args.tls_client_ca.clone();
            config.validate("command-line flags").map_err(flag_error)?;
            config
        }
    };
    block_on(serve(config))?
}

async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let running = Server::start(config).await.context("starting the server")?;
    // A closed stdout must not stop a server: these lines are for whoever reads them.
    let _ = outln!("serving on {}", running.grpc_addr());
    if let Some(addr) = running.metrics_addr() {
        let _ = outln!("metrics on {addr}");
    }
    running.wait(shutdown_signal()).await.context("serving")?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::{Args as _, Command};

    use super::*;

    fn command() -> Command {
        Args::augment_args(Command::new("serve"))
    }

    #[test]
    fn config_refuses_every_other_flag_typed_beside_it() {
        let mut cmd = command();
        let ids: Vec<String> = cmd
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .filter(|id| id != "config" && id != "help")
            .collect();
        for id in ids {
            assert!(
                FLAGS_BESIDE_CONFIG.contains(&id.as_str()),
                "--config does not refuse {id}, which it would silently ignore"
            );
        }
        let matches = command()
            .try_get_matches_from(["serve", "--config", "c.toml", "--max-batch", "5"])
            .expect("parses");
        let err = refuse_flags_beside_config(&mut cmd, &matches)
            .expect_err("a flag beside --config")
            .to_string();
        assert!(
            err.contains("--config cannot be used with --max-batch"),
            "{err}"
        );
        let alone = command()
            .try_get_matches_from(["serve", "--config", "c.toml"])
            .expect("parses");
        assert!(refuse_flags_beside_config(&mut cmd, &alone).is_ok());
        let flags_only = command()
            .try_get_matches_from(["serve", "--store", "s", "--domain", "d"])
            .expect("parses");
        assert!(refuse_flags_beside_config(&mut cmd, &flags_only).is_ok());
    }

    #[test]
    fn flag_defaults_are_the_library_defaults() {
        use clap::FromArgMatches;
        let matches = command()
            .try_get_matches_from(["serve", "--store", "s", "--domain", "d"])
            .expect("parses");
        let args = Args::from_arg_matches(&matches).expect("args");
        assert_eq!(args.poll_interval, config::DEFAULT_POLL_INTERVAL);
        assert_eq!(args.scrub_interval, config::DEFAULT_SCRUB_INTERVAL);
        assert_eq!(args.scrub_rate, config::DEFAULT_SCRUB_RATE);
        assert_eq!(args.keep_versions, config::DEFAULT_KEEP_VERSIONS);
        assert_eq!(args.listen.to_string(), config::DEFAULT_LISTEN);
    }

    #[test]
    fn defaults_alone_do_not_conflict_with_config() {
        let mut cmd = command();
        let alone = command()
            .try_get_matches_from(["serve", "--config", "tusk.toml"])
            .expect("parses");
        assert!(refuse_flags_beside_config(&mut cmd, &alone).is_ok());
        let typed = command()
            .try_get_matches_from([
                "serve",
                "--config",
                "tusk.toml",
                "--keep-versions",
                "3",
                "--listen",
                "127.0.0.1:0",
            ])
            .expect("parses");
        let err = refuse_flags_beside_config(&mut cmd, &typed).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let text = err.to_string();
        assert!(text.contains("--listen, --keep-versions"), "{text}");
    }

    #[test]
    fn flag_values_are_checked_and_named_by_flag() {
        for (flag, value) in [
            ("--keep-versions", "0"),
            ("--max-batch", "0"),
            ("--download-concurrency", "0"),
            ("--poll-interval", "0s"),
            ("--download-rate-limit", "0"),
        ] {
            let err = command()
                .try_get_matches_from(["serve", "--store", "s", "--domain", "d", flag, value])
                .unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{flag}"
            );
            assert!(err.to_string().contains(flag), "{flag}: {err}");
        }
    }

    #[test]
    fn config_errors_from_flags_name_the_flag() {
        assert_eq!(flag_for_field("keep_versions"), "--keep-versions");
        assert_eq!(flag_for_field("domains[0].name"), "--domain");
        assert_eq!(flag_for_field("domains[2].store"), "--store");
        let config = ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            "data",
            "store",
            &["bad/name"],
        );
        let err = flag_error(
            config
                .validate("command-line flags")
                .expect_err("bad domain"),
        );
        let text = err.to_string();
        assert!(text.starts_with("invalid --domain: "), "{text}");
        assert!(!text.contains("domains[0]"), "{text}");
    }

    #[test]
    fn domains_come_comma_separated() {
        use clap::FromArgMatches as _;
        let matches = command()
            .try_get_matches_from([
                "serve",
                "--store",
                "s",
                "--domain",
                "pages,users",
                "--domain",
                "x",
            ])
            .expect("parses");
        let args = Args::from_arg_matches(&matches).expect("args");
        assert_eq!(args.domains, ["pages", "users", "x"]);
    }
}
