//! `tusk history`: every move of CURRENT.

use anyhow::Context;

use super::StoreArgs;
use crate::output::{print_json, print_table};
use crate::runtime::block_on;

/// Show every activation and rollback of a domain, oldest first.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  tusk history --store ./store --domain pages")]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.catalog()?;
    let domain = &args.store.domain;
    let history = block_on(catalog.history(domain))?
        .with_context(|| format!("reading the history of {domain} in {}", catalog.url()))?;
    if args.json {
        return print_json(&history);
    }
    if history.is_empty() {
        println!("{domain} has no history yet (no version was ever activated)");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|h| {
            vec![
                h.seq.to_string(),
                serde_json::to_value(h.action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                h.version.clone(),
                h.previous.clone().unwrap_or_else(|| "-".into()),
                h.at.clone(),
                h.actor.clone(),
                h.reason.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "SEQ", "ACTION", "VERSION", "PREVIOUS", "AT", "ACTOR", "REASON",
        ],
        &rows,
    );
    Ok(())
}
