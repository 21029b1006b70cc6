//! `tusk activate`: make a committed version current.

use anyhow::Context;

use super::StoreArgs;
use super::moves::{ExpectArgs, GateArgs, print_outcome};
use crate::runtime::block_on;

/// Make a committed version of a domain current.
///
/// Writes a create-only history record, then rewrites CURRENT conditioned on the
/// CURRENT this command read (or `--expect-current`). Servers swap to the version on
/// their next poll. If another operator moves CURRENT at the same moment, exactly one
/// of you wins; the other gets a conflict naming the winner, and nothing of theirs
/// ever takes effect. Activating the version that is already current changes nothing.
///
/// The version is first checked against the domain's write policy (`tusk policy`):
/// one that breaks it is refused, naming each rule, unless `--force --reason WHY`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  tusk activate --store ./store --domain pages 20261121T213000Z-7f3a --reason 'fixed data'\n  tusk activate --store ./store --domain pages 20261121T213000Z-7f3a --expect-current 20261120T080000Z-1c2d\n  tusk activate --store ./store --domain pages 20261121T213000Z-7f3a --force --reason 'planned shrink: dropped inactive users'"
)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The version id to make current (see `tusk versions`).
    version: String,
    /// Why, recorded in the history (default "tusk activate"; required with --force).
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    expect: ExpectArgs,
    #[command(flatten)]
    gate: GateArgs,
    /// Print the outcome as JSON: the new CURRENT (version, seq, updated_at, actor,
    /// reason) with domain, moved and from.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog_blocking()?;
    let domain = &args.store.domain;
    let mut options = args
        .expect
        .options(args.reason.as_deref().unwrap_or("tusk activate"));
    args.gate.apply(&mut options, args.reason.as_deref())?;
    let outcome = block_on(catalog.activate_with(domain, &args.version, &options))?
        .with_context(|| format!("activating {domain} version {}", args.version))?;
    print_outcome(domain, &outcome, false, args.json)
}
