//! `tusk history`: every move of CURRENT.

use anyhow::Context;
use serde::Serialize;
use tusk_store::HistoryRecord;

use super::StoreArgs;
use crate::output::{outln, print_json, write_table};
use crate::runtime::block_on;

/// Show every activation and rollback of a domain, oldest first.
///
/// A record is written before CURRENT moves; a move that failed or lost a race to
/// another operator leaves a record that never took effect (NOTE column: "did not
/// take effect"). A rollback that took effect marks the version it left as rolled
/// back (NOTE: "marked X rolled back"); `tusk versions` shows the marks.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  tusk history --store ./store --domain pages")]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Print a JSON array instead of a table; each record has `took_effect`.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    record: &'a HistoryRecord,
    took_effect: bool,
    marked_rolled_back: Option<&'a str>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog_blocking()?;
    let domain = &args.store.domain;
    let lineage = block_on(catalog.lineage(domain))?
        .with_context(|| format!("reading the history of {domain} in {}", catalog.url()))?;
    let effective = lineage.effective_seqs()?;
    let rows: Vec<Row> = lineage
        .records()
        .iter()
        .map(|record| {
            let took_effect = effective.contains(&record.seq);
            let rollback = record.action == tusk_store::Action::Rollback;
            Row {
                record,
                took_effect,
                marked_rolled_back: record
                    .previous
                    .as_deref()
                    .filter(|_| took_effect && rollback),
            }
        })
        .collect();
    if args.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("{domain} has no history yet (no version was ever activated)")?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let h = row.record;
            let note = match (row.took_effect, row.marked_rolled_back) {
                (false, _) => "did not take effect".to_string(),
                (true, Some(left)) => format!("marked {left} rolled back"),
                (true, None) => String::new(),
            };
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
                match &h.policy_override {
                    Some(why) => format!("{} (policy overridden: {why})", h.reason),
                    None => h.reason.clone(),
                },
                note,
            ]
        })
        .collect();
    write_table(
        &[
            "SEQ", "ACTION", "VERSION", "PREVIOUS", "AT", "ACTOR", "REASON", "NOTE",
        ],
        &table,
    )?;
    Ok(())
}
