//! `tusk gc`: delete old versions and the leftovers of failed publishes.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use tusk_store::{GcKind, GcOptions, GcReport};

use super::StoreArgs;
use crate::output::{StdoutError, human_bytes, outln, print_json, write_table};
use crate::runtime::block_on;

/// Delete old versions of a domain, keeping the newest --keep ones.
///
/// Never deleted: the current version, the rollback target (the version a plain
/// `tusk rollback` would go to), a version that was current within --grace, a publish
/// in progress (its PUBLISHING.json marker renewed within its lease plus --grace), and
/// anything younger than --grace (by manifest creation time and the store's upload
/// times of its objects, the later of both). Directories of publishes that died (no
/// MANIFEST.json, no live marker) are deleted once older than --grace, marker first.
/// MANIFEST.json goes first, so a version disappears from `tusk versions` at once. Use
/// --dry-run to see the plan; the grace period must be longer than your servers' poll
/// interval (a publish in progress is protected by its marker, however long it takes).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  tusk gc --store ./store --domain pages --keep 5 --dry-run\n  tusk gc --store ./store --domain pages --keep 5 --grace 6h --json"
)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Committed versions to keep, newest first (at least 1; required, since gc deletes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    keep: u32,
    /// Keep everything younger than this (e.g. 30m, 1h, 2days).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, value_name = "DURATION")]
    grace: Duration,
    /// Show what would be deleted; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog_blocking()?;
    let domain = &args.store.domain;
    let options = GcOptions {
        keep: args.keep as usize,
        grace: args.grace,
        dry_run: args.dry_run,
        now: SystemTime::now(),
    };
    let report = block_on(catalog.gc(domain, &options))?
        .with_context(|| format!("garbage-collecting {domain} in {}", catalog.url()))?;
    if args.json {
        return print_json(&report);
    }
    print_report(&report, &catalog.url())?;
    Ok(())
}

fn print_report(report: &GcReport, url: &str) -> Result<(), StdoutError> {
    let domain = &report.domain;
    if report.entries.is_empty() {
        outln!("no versions of {domain} in {url}")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = report
        .entries
        .iter()
        .map(|e| {
            let action = match (e.delete, report.dry_run) {
                (true, true) => "would delete",
                (true, false) => "deleted",
                (false, _) => "kept",
            };
            vec![
                e.version.clone(),
                match e.kind {
                    GcKind::Committed => "committed".to_string(),
                    GcKind::Debris => "debris".to_string(),
                },
                action.to_string(),
                reason_text(e.reason).to_string(),
                e.objects.to_string(),
                human_bytes(e.bytes),
            ]
        })
        .collect();
    write_table(
        &["VERSION", "KIND", "ACTION", "REASON", "OBJECTS", "BYTES"],
        &rows,
    )?;
    let versions = report.deleted().count();
    let verb = if report.dry_run {
        "dry run: would delete"
    } else {
        "deleted"
    };
    outln!(
        "{domain}: {verb} {versions} version(s), {} object(s), {}",
        report.objects_freed,
        human_bytes(report.bytes_freed)
    )?;
    Ok(())
}

fn reason_text(reason: tusk_store::GcReason) -> &'static str {
    use tusk_store::GcReason as R;
    match reason {
        R::Current => "current",
        R::RollbackTarget => "rollback target",
        R::RecentlyCurrent => "current within grace",
        R::WithinKeep => "within keep",
        R::Publishing => "publish in progress",
        R::YoungerThanGrace => "younger than grace",
        R::AgeUnknown => "age unknown",
        R::CorruptManifest => "corrupt manifest",
        R::Expired => "expired",
        R::Debris => "debris",
    }
}
