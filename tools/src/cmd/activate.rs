//! `tusk activate`: make a committed version current.

use anyhow::Context;

use super::StoreArgs;
use crate::output::print_json;
use crate::runtime::{actor, block_on};

/// Make a committed version of a domain current.
///
/// Writes a create-only history record, then rewrites CURRENT. Servers swap to the
/// version on their next poll. If another operator moves CURRENT at the same moment,
/// exactly one of you wins and the other gets a conflict error and changes nothing.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  tusk activate --store ./store --domain pages 20261121T213000Z-7f3a --reason 'fixed data'"
)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The version id to make current (see `tusk versions`).
    version: String,
    /// Why, recorded in the history.
    #[arg(long, default_value = "tusk activate")]
    reason: String,
    /// Print the new CURRENT as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.catalog()?;
    let domain = &args.store.domain;
    let current = block_on(catalog.activate(domain, &args.version, &actor(), &args.reason))?
        .with_context(|| format!("activating {domain} version {}", args.version))?;
    if args.json {
        return print_json(&current);
    }
    println!(
        "{domain}: CURRENT is now {} (seq {})",
        current.version, current.seq
    );
    Ok(())
}
