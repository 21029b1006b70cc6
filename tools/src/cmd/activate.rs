//! `tusk activate`: make a committed version current.

use anyhow::Context;

use super::StoreArgs;
use super::moves::{ExpectArgs, print_outcome};
use crate::runtime::block_on;

/// Make a committed version of a domain current.
///
/// Writes a create-only history record, then rewrites CURRENT conditioned on the
/// CURRENT this command read (or `--expect-current`). Servers swap to the version on
/// their next poll. If another operator moves CURRENT at the same moment, exactly one
/// of you wins; the other gets a conflict naming the winner, and nothing of theirs
/// ever takes effect. Activating the version that is already current changes nothing.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  tusk activate --store ./store --domain pages 20261121T213000Z-7f3a --reason 'fixed data'\n  tusk activate --store ./store --domain pages 20261121T213000Z-7f3a --expect-current 20261120T080000Z-1c2d"
)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The version id to make current (see `tusk versions`).
    version: String,
    /// Why, recorded in the history.
    #[arg(long, default_value = "tusk activate")]
    reason: String,
    #[command(flatten)]
    expect: ExpectArgs,
    /// Print the outcome as JSON: {domain, moved, from, to, seq, current}.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.catalog()?;
    let domain = &args.store.domain;
    let options = args.expect.options(&args.reason);
    let outcome = block_on(catalog.activate_with(domain, &args.version, &options))?
        .with_context(|| format!("activating {domain} version {}", args.version))?;
    print_outcome(domain, &outcome, false, args.json)
}
