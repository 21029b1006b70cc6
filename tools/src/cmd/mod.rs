//! One module per `tusk` command.

pub mod activate;
pub mod bench;
pub mod diff;
mod encoding;
pub mod gc;
pub mod get;
pub mod history;
pub mod inspect;
mod moves;
pub mod policy;
pub mod rollback;
pub mod serve;
pub mod status;
pub mod verify;
pub mod versions;
pub mod write;

use anyhow::Context;
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
    /// Opens the store named by `--store`.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        Catalog::open(&self.store).with_context(|| format!("opening store {}", self.store))
    }
}

/// `--server`, shared by the commands that talk to a running server.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Server address, `host:port`.
    #[arg(
        long,
        env = "TUSK_SERVER",
        default_value = "127.0.0.1:7070",
        value_name = "ADDR"
    )]
    pub server: String,
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
