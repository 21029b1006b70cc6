//! `tusk rollback`: move CURRENT back.

use anyhow::Context;

use super::StoreArgs;
use super::moves::{ExpectArgs, print_outcome};
use crate::runtime::block_on;

/// Roll a domain back: leave the current version, marking it rolled back, for the
/// newest older version that was once current and is not rolled back, or for
/// `--to VERSION`.
///
/// Repeated rollbacks walk further back, never forward; `tusk versions` and
/// `tusk history` show the marks. Only the CURRENT pointer moves (with a history
/// record), conditioned on the CURRENT this command read (or `--expect-current`):
/// of two operators rolling back at once, exactly one wins. Servers that still hold
/// the target version on disk swap back within one poll interval.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  tusk rollback --store ./store --domain pages --reason 'bad join'\n  tusk rollback --store ./store --domain pages --expect-current 20261121T213000Z-7f3a\n  tusk rollback --store ./store --domain pages --to 20261120T080000Z-1c2d"
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
    #[command(flatten)]
    expect: ExpectArgs,
    /// Print the outcome as JSON: the new CURRENT (version, seq, updated_at,
    /// actor, reason) with domain, moved, from and rolled_back.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog_blocking()?;
    let domain = &args.store.domain;
    let options = args.expect.options(&args.reason);
    let outcome = block_on(catalog.rollback_with(domain, args.to.as_deref(), &options))?
        .with_context(|| format!("rolling back {domain}"))?;
    print_outcome(domain, &outcome, true, args.json)
}
