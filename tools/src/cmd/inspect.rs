//! `tusk inspect`: look inside one shard file.

use std::fs::File;
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;
use tusk_format::Shard;

use crate::output::{display_bytes, human_bytes, outln, print_json};

/// Show a shard file's header, counts and checks.
///
/// Opens the file (constant-time header and footer checks), then runs the full
/// checksum pass unless `--no-verify`. Exits non-zero if either check fails.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  tusk inspect ./data/pages/20261121T213000Z-7f3a/shard-00000.tsk --keys 5"
)]
pub struct Args {
    /// The shard file (`shard-NNNNN.tsk`).
    file: PathBuf,
    /// Skip the full checksum pass.
    #[arg(long)]
    no_verify: bool,
    /// Also print the first N keys in key order.
    #[arg(long, value_name = "N", default_value_t = 0)]
    keys: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    file: String,
    format: &'static str,
    format_version: u16,
    flags: u16,
    records: u64,
    blocks: u64,
    index_buckets: u64,
    file_bytes: u64,
    data_bytes: u64,
    index_bytes: u64,
    index_bytes_per_record: f64,
    crc32: String,
    verified: Option<bool>,
    first_keys: Vec<String>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let path = args.file.display().to_string();
    let file = File::open(&args.file).with_context(|| format!("opening {path}"))?;
    // SAFETY: the map is read-only and lives only for this command; tusk never
    // rewrites a shard file in place (a concurrent truncation by another program
    // could still raise SIGBUS, which is acceptable for an inspection tool).
    let map = unsafe { memmap2::Mmap::map(&file) }.with_context(|| format!("mapping {path}"))?;
    let crc32 = crc32fast::hash(&map);
    let shard =
        Shard::open(&map[..]).with_context(|| format!("{path} does not open as a tusk shard"))?;
    let info = shard.info();
    let verified = if args.no_verify {
        None
    } else {
        Some(
            shard
                .verify()
                .with_context(|| format!("{path} fails verification"))
                .map(|_| true)?,
        )
    };
    let mut first_keys = Vec::new();
    for record in shard.iter().take(args.keys) {
        let (key, _) = record.with_context(|| format!("scanning {path}"))?;
        first_keys.push(display_bytes(key));
    }
    let report = Report {
        file: path,
        format: info.format.name(),
        format_version: info.format_version,
        flags: info.flags,
        records: info.records,
        blocks: info.blocks,
        index_buckets: info.index_buckets,
        file_bytes: info.file_bytes,
        data_bytes: info.data_bytes,
        index_bytes: info.index_bytes,
        index_bytes_per_record: if info.records == 0 {
            0.0
        } else {
            info.index_bytes as f64 / info.records as f64
        },
        crc32: format!("{crc32:08x}"),
        verified,
        first_keys,
    };
    if args.json {
        return print_json(&report);
    }
    outln!("file            {}", report.file)?;
    outln!(
        "format version  {} ({}, flags {:#06x})",
        report.format_version,
        report.format,
        report.flags
    )?;
    outln!("records         {}", report.records)?;
    outln!("blocks          {}", report.blocks)?;
    outln!(
        "size            {} (data {}, index {} = {:.1} B/record)",
        human_bytes(report.file_bytes),
        human_bytes(report.data_bytes),
        human_bytes(report.index_bytes),
        report.index_bytes_per_record
    )?;
    outln!("index buckets   {}", report.index_buckets)?;
    outln!("file crc32      {}", report.crc32)?;
    match report.verified {
        Some(_) => outln!("checks          header, footer, every block: ok")?,
        None => outln!("checks          header, footer: ok (full pass skipped)")?,
    }
    for key in &report.first_keys {
        outln!("key             {key}")?;
    }
    Ok(())
}
