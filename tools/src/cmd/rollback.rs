//! `tusk rollback`: move CURRENT back.

use anyhow::Context;

use super::StoreArgs;
use crate::output::print_json;
use crate::runtime::{actor, block_on};

/// Roll a domain back to the version that was current before the current one, or to
/// `--to VERSION`.
///
/// Only the CURRENT pointer moves (with a history record); servers that still hold the
/// target version on disk swap back within one poll interval.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  tusk rollback --store ./store --domain pages\n  tusk rollback --store ./store --domain pages --to 20261120T080000Z-1c2d --reason 'bad join'"
)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Roll back to this committed version instead of the previous one.
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// Why, recorded in the history.
    #[arg(long, default_value = "tusk rollback")]
    reason: String,
    /// Print the new CURRENT as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.catalog()?;
    let domain = &args.store.domain;
    let before = block_on(catalog.current(domain))?.ok().flatten();
    let current = block_on(catalog.rollback(domain, args.to.as_deref(), &actor(), &args.reason))?
        .with_context(|| format!("rolling back {domain}"))?;
    if args.json {
        return print_json(&current);
    }
    let from = before.map(|c| c.version).unwrap_or_else(|| "(none)".into());
    println!(
        "{domain}: rolled back {from} -> {} (seq {})",
        current.version, current.seq
    );
    Ok(())
}
