//! One module per `tusk` command.

pub mod activate;
mod addr;
pub mod bench;
pub mod completions;
pub mod diff;
mod encoding;
pub mod gc;
pub mod get;
pub mod history;
pub mod inspect;
mod moves;
mod open;
pub mod policy;
pub mod rollback;
pub mod serve;
pub mod status;
pub mod verify;
pub mod versions;
pub mod write;

use std::path::PathBuf;

use anyhow::Context;
use tusk_client::{NodeOptions, TlsIdentity, TlsOptions};
use tusk_store::Catalog;

/// `--store` and `--domain`, shared by the commands that operate on a store.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Store URL: `s3://bucket/prefix` (see the README's "Running on S3"),
    /// `file:///path`, or a bare directory path (the local store).
    #[arg(long, env = "TUSK_STORE", value_name = "URL")]
    pub store: String,
    /// Domain (dataset) name, e.g. `pages`.
    #[arg(long, env = "TUSK_DOMAIN", value_name = "NAME")]
    pub domain: String,
}

impl StoreArgs {
    /// Opens the existing store named by `--store`; a local path with no directory is
    /// an error ("no store at ./nostore"), never created.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        match Catalog::open_existing(&self.store) {
            Err(e) if e.kind() == tusk_store::ErrorKind::NotFound => {
                anyhow::bail!(open::missing_store(&self.store))
            }
            opened => opened.with_context(|| format!("opening store {}", self.store)),
        }
    }

    /// Opens the store named by `--store`, creating a local one that does not exist
    /// yet (`tusk write` only).
    pub fn catalog_or_create(&self) -> anyhow::Result<Catalog> {
        Catalog::open(&self.store).with_context(|| format!("opening store {}", self.store))
    }

    /// Opens the existing store and checks that it holds `--domain`; an unknown
    /// domain is an error listing the known ones.
    pub async fn domain_catalog(&self) -> anyhow::Result<Catalog> {
        let catalog = self.catalog()?;
        let domain = &self.domain;
        tusk_store::keys::validate_domain(domain).context("--domain")?;
        if catalog
            .has_domain(domain)
            .await
            .with_context(|| format!("looking for domain {domain} in {}", self.store))?
        {
            return Ok(catalog);
        }
        let known = catalog
            .domains()
            .await
            .with_context(|| format!("listing the domains in {}", self.store))?;
        anyhow::bail!(open::unknown_domain(domain, &self.store, &known))
    }

    /// [`StoreArgs::domain_catalog`] for a command that is not async.
    pub fn domain_catalog_blocking(&self) -> anyhow::Result<Catalog> {
        crate::runtime::block_on(self.domain_catalog())?
    }
}

/// `--server` and the TLS flags, shared by the commands that talk to a running
/// server.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Server address: `host:port` (plaintext, or TLS when a TLS flag is given),
    /// `https://host:port` (TLS, needs --tls-ca) or `http://host:port` (plaintext).
    #[arg(
        long,
        env = "TUSK_SERVER",
        default_value = "127.0.0.1:7070",
        value_name = "ADDR"
    )]
    pub server: String,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// `--tls-ca`, `--tls-cert`, `--tls-key`: how a command that connects speaks TLS.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// CA certificate (PEM) the servers' certificates must chain to. Required for
    /// `https://` addresses; given, `host:port` addresses use TLS too.
    #[arg(long, env = "TUSK_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) presented to servers that require one (mTLS).
    #[arg(long, env = "TUSK_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "TUSK_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The client TLS options these flags ask for (`None`: plaintext), reading the
    /// files. An `https://` address among `addrs` without --tls-ca, or a client
    /// certificate without --tls-ca, is an error naming the flag.
    pub fn options(&self, addrs: &[String]) -> anyhow::Result<Option<TlsOptions>> {
        if self.tls_ca.is_none() {
            if let Some(https) = addrs
                .iter()
                .find(|a| a.trim().to_ascii_lowercase().starts_with("https://"))
            {
                anyhow::bail!(
                    "{https} is an https:// address: pass --tls-ca FILE, the CA certificate \
                     that signed the server's certificate"
                );
            }
            if self.tls_cert.is_some() {
                anyhow::bail!("--tls-cert needs --tls-ca FILE to trust the server");
            }
            return Ok(None);
        }
        let read = |flag: &str, path: &PathBuf| {
            std::fs::read(path).with_context(|| format!("reading {flag} {}", path.display()))
        };
        let ca = self
            .tls_ca
            .as_ref()
            .map(|p| read("--tls-ca", p))
            .transpose()?;
        let identity = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsIdentity {
                cert: read("--tls-cert", cert)?,
                key: read("--tls-key", key)?,
            }),
            _ => None,
        };
        Ok(Some(TlsOptions {
            ca,
            identity,
            domain_name: None,
        }))
    }
}

impl ServerArgs {
    /// Connection options for `--server`: defaults plus the TLS flags.
    pub fn node_options(&self) -> anyhow::Result<NodeOptions> {
        Ok(NodeOptions {
            tls: self.tls.options(std::slice::from_ref(&self.server))?,
            ..NodeOptions::default()
        })
    }
}

/// The error of a failed connection to `server`: when nothing listens there, a
/// hint to start a server, with the cause (`Connection refused`) kept in the chain.
pub fn connect_error(server: &str, err: tusk_client::ClientError) -> anyhow::Error {
    let refused = nothing_listens(&err);
    let err = anyhow::Error::new(err);
    if refused {
        err.context(format!(
            "could not connect to {server} — is `tusk serve` running there?"
        ))
    } else {
        err.context(format!("connecting to {server}"))
    }
}

/// Whether `err` or one of its causes is a refused TCP connection.
fn nothing_listens(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A comma-separated address list (`--servers`) without blanks and repeats; at
/// least one address, else an error naming `flag`.
pub fn server_list(given: &[String], flag: &str) -> anyhow::Result<Vec<String>> {
    let mut servers: Vec<String> = Vec::new();
    for s in given.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !servers.iter().any(|known| known == s) {
            servers.push(s.to_string());
        }
    }
    anyhow::ensure!(!servers.is_empty(), "{flag} names no address");
    Ok(servers)
}
