//! `tusk versions`: the committed versions of a domain.

use anyhow::Context;
use serde::Serialize;

use super::StoreArgs;
use crate::output::{human_bytes, outln, print_json, write_table};
use crate::runtime::block_on;

/// List the committed versions of a domain, oldest first, marking the current one
/// and the ones rolled back (a plain `tusk rollback` never goes to those).
///
/// A version is committed once its MANIFEST.json exists; versions still being
/// written (or abandoned by a crashed writer) are not listed.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  tusk versions --store ./store --domain pages --json")]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row<'a> {
    version: &'a str,
    created_at: &'a str,
    records: u64,
    bytes: u64,
    shards: u32,
    current: bool,
    rolled_back: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog_blocking()?;
    let domain = &args.store.domain;
    let versions = block_on(catalog.versions(domain))?
        .with_context(|| format!("listing versions of {domain} in {}", catalog.url()))?;
    let rows: Vec<Row> = versions
        .iter()
        .map(|v| Row {
            version: &v.manifest.version,
            created_at: &v.manifest.created_at,
            records: v.manifest.records,
            bytes: v.manifest.bytes,
            shards: v.manifest.shard_count,
            current: v.is_current,
            rolled_back: v.rolled_back,
        })
        .collect();
    if args.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("no committed versions of {domain} in {}", catalog.url())?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.version.to_string(),
                r.created_at.to_string(),
                r.records.to_string(),
                human_bytes(r.bytes),
                r.shards.to_string(),
                if r.current { "*".into() } else { String::new() },
                if r.rolled_back {
                    "rolled back".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    write_table(
        &[
            "VERSION", "CREATED", "RECORDS", "BYTES", "SHARDS", "CURRENT", "NOTE",
        ],
        &table,
    )?;
    Ok(())
}
