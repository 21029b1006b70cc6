//! `tusk diff`: what changed between two versions of a domain.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use tusk_store::{DiffOptions, DiffProgress, DiffProgressFn, DiffReport};

use super::StoreArgs;
use crate::output::{StdoutError, display_bytes, encode_bytes, outln, print_json, write_table};
use crate::runtime::block_on;

/// Count the records added, removed, changed and unchanged from version V1 to V2.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Downloads every shard of both versions (checked against their manifests) into a scratch
directory, then merges each version's key-sorted shards and walks both in key order; the
versions may have different shard counts. Needs free disk space for both versions; the
scratch directory is removed afterwards. A progress bar shows on stderr when it is a
terminal and the diff takes more than a second.

Examples:
  tusk diff --store ./store --domain pages 20261120T080000Z-1c2d 20261121T213000Z-7f3a
  tusk diff --store ./store --domain pages V1 V2 --sample 10 --json

--json prints one object: {domain, from, to, added, removed, changed, unchanged,
samples: {added, removed, changed}}, each sample {\"key\": ...} with
\"key_encoding\": \"base64\" when the key is not UTF-8.")]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The old version.
    #[arg(value_name = "V1")]
    from: String,
    /// The new version.
    #[arg(value_name = "V2")]
    to: String,
    /// Print up to N example keys of each kind (added, removed, changed).
    #[arg(long, default_value_t = 0, value_name = "N")]
    sample: usize,
    /// Where to download the shards (default: the system temp dir).
    #[arg(long, value_name = "DIR")]
    temp_dir: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog_blocking()?;
    let domain = &args.store.domain;
    let bar = progress_bar();
    let options = DiffOptions {
        sample: args.sample,
        temp_dir: args.temp_dir.clone(),
        progress: bar.clone().map(progress_fn),
    };
    let report = block_on(catalog.diff(domain, &args.from, &args.to, &options))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = report.with_context(|| {
        format!(
            "comparing {domain} versions {} and {} in {}",
            args.from,
            args.to,
            catalog.url()
        )
    })?;
    if args.json {
        return print_json(&to_json(&report));
    }
    print_report(&report)?;
    Ok(())
}

fn to_json(report: &DiffReport) -> serde_json::Value {
    let keys = |keys: &[Vec<u8>]| -> Vec<serde_json::Value> {
        keys.iter()
            .map(|k| match encode_bytes(k) {
                (text, None) => json!({ "key": text }),
                (text, Some(enc)) => json!({ "key": text, "key_encoding": enc }),
            })
            .collect()
    };
    let c = &report.counts;
    json!({
        "domain": report.domain,
        "from": report.from,
        "to": report.to,
        "added": c.added,
        "removed": c.removed,
        "changed": c.changed,
        "unchanged": c.unchanged,
        "samples": {
            "added": keys(&c.samples.added),
            "removed": keys(&c.samples.removed),
            "changed": keys(&c.samples.changed),
        },
    })
}

fn print_report(report: &DiffReport) -> Result<(), StdoutError> {
    let c = &report.counts;
    outln!("{}: {} -> {}", report.domain, report.from, report.to)?;
    let rows = [
        ("added", c.added),
        ("removed", c.removed),
        ("changed", c.changed),
        ("unchanged", c.unchanged),
    ]
    .map(|(kind, n)| vec![kind.to_string(), n.to_string()]);
    write_table(&["KIND", "RECORDS"], &rows)?;
    for (kind, keys) in [
        ("added", &c.samples.added),
        ("removed", &c.samples.removed),
        ("changed", &c.samples.changed),
    ] {
        if keys.is_empty() {
            continue;
        }
        outln!("{kind} (first {}):", keys.len())?;
        for key in keys {
            outln!("  {}", display_bytes(key))?;
        }
    }
    Ok(())
}

/// A hidden bar that appears on stderr once the diff has run for a second, only when
/// stderr is a terminal.
fn progress_bar() -> Option<ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{msg:9} {wide_bar} {pos}/{len} {elapsed}")
            .expect("the progress template is valid"),
    );
    Some(bar)
}

fn progress_fn(bar: ProgressBar) -> DiffProgressFn {
    let shown = AtomicBool::new(false);
    let comparing = AtomicBool::new(false);
    Arc::new(move |event| {
        if !shown.load(Ordering::Relaxed) && bar.elapsed() > Duration::from_secs(1) {
            shown.store(true, Ordering::Relaxed);
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        match event {
            DiffProgress::Downloaded { bytes, total_bytes } => {
                bar.set_message("download");
                bar.set_length(total_bytes);
                bar.inc(bytes);
            }
            DiffProgress::Compared {
                records,
                total_records,
            } => {
                if !comparing.swap(true, Ordering::Relaxed) {
                    bar.set_message("compare");
                    bar.set_length(total_records);
                    bar.set_position(0);
                }
                bar.inc(records);
            }
            _ => {}
        }
    })
}
