//! `tusk write`: build a version from job output and publish it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tusk_writer::{Column, InputFormat, InputOptions, InputSource, OnDuplicate, WriteOptions};

use tusk_server::config::parse_size;
use tusk_store::MoveOptions;

use super::StoreArgs;
use super::encoding::EncodingArg;
use super::moves::GateArgs;
use crate::output::{human_bytes, print_json};
use crate::runtime::{actor, block_on};

mod display;
mod interrupt;
mod progress;

use display::{Display, Mode};

/// Build a new version of a domain from TSV, JSONL, CSV or Parquet input and publish it.
///
/// Records are partitioned by `pmod(xxhash64(key, 42), shards)` (Spark's partitioner),
/// each shard is sorted and built in parallel, and the version is published: shards
/// first, MANIFEST.json last, so a failed or killed run leaves no visible version. The
/// new version is then activated (servers swap to it) unless `--no-activate`,
/// after a check against the domain's write policy (`tusk policy`): a version that
/// breaks it stays published but not current, the error naming each rule, unless
/// `--force --reason WHY` (or `--allow-empty` for an empty version).
///
/// Input larger than `--memory` is spilled to sorted runs on disk and merged. Stopped
/// by SIGINT or SIGTERM, the command removes its temporary files and exits non-zero
/// (130 or 143); nothing it had not finished publishing becomes visible.
///
/// Progress goes to stderr (see the help's "Progress" section).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Input formats:
  tsv    one record per line: KEY<TAB>VALUE (split at the first tab; the value may hold tabs)
  jsonl  one JSON object per line: {\"key\": \"...\", \"value\": ...}; a value that is not a
         string is stored as its compact JSON text
  csv    RFC 4180 (quoted fields may hold commas, \"\" and line breaks); a header names the
         columns unless --csv-no-header; --key-column/--value-column pick the two
  parquet  string or binary (BYTE_ARRAY) columns picked by --key-column/--value-column,
         uncompressed or snappy (as Spark writes); nulls are errors; not from stdin

A directory of csv or parquet is read as a Spark job's output: `_SUCCESS`,
`_committed_*`, other names starting with `_` or `.`, and `*.crc` are skipped.

Progress (on stderr; stdout carries only the summary or its --json):
  on a terminal  a bar per phase: reading (percent of the input size, records, ETA),
                 building (shards built of the total), uploading (shards, bytes sent)
  otherwise      a line at each phase change, and one every 5 s with the phase, done
                 and total, percent, rate and ETA (TUSK_PROGRESS_INTERVAL=30s to change)
  Input from stdin has no known size: no percent or ETA while reading.

Examples:
  tusk write --store ./store --domain pages --format tsv --input pages.tsv
  zcat part-*.gz | tusk write --store ./store --domain pages --format jsonl --input - --shards 32
  tusk write --store ./store --domain blobs --format tsv --input out/ --value-encoding base64 --json
  tusk write --store ./store --domain pages --format parquet --input spark-out/ --key-column url
  tusk write --store ./store --domain pages --format csv --csv-no-header --key-column 0 --value-column 2 -i a.csv.gz")]
pub struct Args {
    #[command(flatten)]
    target: StoreArgs,
    /// Number of shards in the new version, 1 to 65536: each shard is a memory-mapped
    /// file on every server that holds it (see the server's vm.max_map_count).
    #[arg(long, default_value_t = tusk_writer::DEFAULT_SHARDS, value_parser = parse_shards, value_name = "N")]
    shards: u32,
    /// Input format (see "Input formats" below).
    #[arg(long, value_enum)]
    format: FormatArg,
    /// Input file, directory (every file inside) or `-` for stdin; `.gz`/`.zst` files are
    /// decompressed. Repeat for several inputs.
    #[arg(long = "input", short = 'i', required = true, value_name = "PATH")]
    inputs: Vec<String>,
    /// Memory budget for buffering records before spilling sorted runs to disk; at
    /// least 4MiB.
    #[arg(long, default_value = "1GiB", value_parser = parse_memory, value_name = "SIZE")]
    memory: u64,
    /// What to do when a key appears twice: fail naming it, keep the first or the last.
    #[arg(long, value_enum, default_value_t = DuplicateArg::Error)]
    on_duplicate: DuplicateArg,
    /// How keys are encoded in the input (Parquet: string columns only; a binary
    /// column is taken as is).
    #[arg(long, value_enum, default_value_t = EncodingArg::Utf8)]
    key_encoding: EncodingArg,
    /// How values are encoded in the input (Parquet: string columns only).
    #[arg(long, value_enum, default_value_t = EncodingArg::Utf8)]
    value_encoding: EncodingArg,
    /// JSONL field holding the key.
    #[arg(long, default_value = "key", value_name = "FIELD")]
    key_field: String,
    /// JSONL field holding the value.
    #[arg(long, default_value = "value", value_name = "FIELD")]
    value_field: String,
    /// CSV or Parquet column holding the key: a name, or a 0-based index (digits
    /// only). Without a CSV header only indexes work.
    #[arg(long, default_value = "key", value_name = "NAME|INDEX")]
    key_column: Column,
    /// CSV or Parquet column holding the value: a name, or a 0-based index.
    #[arg(long, default_value = "value", value_name = "NAME|INDEX")]
    value_column: Column,
    /// CSV files have no header line: every line is a record, columns go by index.
    #[arg(long)]
    csv_no_header: bool,
    /// CSV field delimiter: one ASCII character, or `tab`.
    #[arg(long, default_value = ",", value_parser = parse_delimiter, value_name = "CHAR")]
    csv_delimiter: u8,
    /// Publish without activating (activate later with `tusk activate`).
    #[arg(long)]
    no_activate: bool,
    /// Why, recorded in the history with the activation (default "published by tusk
    /// write (N records)"; required with --force).
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    gate: GateArgs,
    /// Directory for spill files and shards before upload (default: the system temp
    /// dir). The build works in a private `tusk-write-*` directory inside it, removed
    /// when the command ends, fails or is stopped by SIGINT/SIGTERM.
    #[arg(long, value_name = "DIR")]
    temp_dir: Option<PathBuf>,
    /// Worker threads that sort and build shards (default: one per core). The input is
    /// read and parsed on a thread of its own beside them.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Shard file format to write: tusk-native-v2 (4 bytes less per record), or
    /// tusk-native-v1 while some servers of the fleet run a build older than
    /// version 2 (such a server refuses a v2 version and keeps serving its own).
    /// Every server reads both; FORMAT.md tells them apart.
    #[arg(long, default_value_t = tusk_format::ShardFormat::default(), value_name = "FORMAT")]
    shard_format: tusk_format::ShardFormat,
    /// Extra writer metadata recorded in the manifest, `KEY=VALUE`; repeatable.
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    meta: Vec<(String, String)>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Time between two progress lines when stderr is not a terminal.
    #[arg(
        long,
        hide = true,
        env = "TUSK_PROGRESS_INTERVAL",
        default_value = "5s",
        value_parser = humantime::parse_duration,
        value_name = "DURATION"
    )]
    progress_interval: Duration,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Tsv,
    Jsonl,
    Csv,
    Parquet,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DuplicateArg {
    Error,
    First,
    Last,
}

fn parse_shards(text: &str) -> Result<u32, String> {
    let n: u64 = text
        .parse()
        .map_err(|e| format!("{text:?} is not a shard count: {e}"))?;
    tusk_writer::check_shards(n).map_err(|e| e.to_string())
}

fn parse_memory(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text)?;
    tusk_writer::check_memory_budget(bytes).map_err(|e| e.to_string())
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text.as_bytes() {
        b"tab" | b"\\t" => Ok(b'\t'),
        [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Ok(*b),
        _ => Err(format!(
            "{text:?} is not a delimiter: give one ASCII character other than a quote or a line break, or `tab`"
        )),
    }
}

fn parse_meta(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

#[derive(Serialize)]
struct Summary<'a> {
    store: &'a str,
    domain: &'a str,
    version: &'a str,
    records: u64,
    bytes: u64,
    input_bytes: u64,
    shards: u32,
    spilled_runs: u64,
    duplicates_dropped: u64,
    seconds: f64,
    activated: bool,
}

/// Runs the command; progress on stderr only when `show_progress` (a quiet run
/// passes `false`), as JSON log events with `json_logs`.
pub fn run(args: Args, show_progress: bool, json_logs: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    args.gate.check(args.reason.as_deref())?;
    let sources: Vec<InputSource> = args
        .inputs
        .iter()
        .map(|p| {
            if p == "-" {
                InputSource::Stdin
            } else {
                InputSource::Path(PathBuf::from(p))
            }
        })
        .collect();
    let input = InputOptions {
        format: match args.format {
            FormatArg::Tsv => InputFormat::Tsv,
            FormatArg::Jsonl => InputFormat::Jsonl,
            FormatArg::Csv => InputFormat::Csv,
            FormatArg::Parquet => InputFormat::Parquet,
        },
        key_encoding: args.key_encoding.into(),
        value_encoding: args.value_encoding.into(),
        key_field: args.key_field.clone(),
        value_field: args.value_field.clone(),
        key_column: args.key_column.clone(),
        value_column: args.value_column.clone(),
        csv_header: !args.csv_no_header,
        csv_delimiter: args.csv_delimiter,
    };
    // Every temporary file of this run lives under `workdir`, so that a signal can
    // remove them all (see `interrupt`).
    let parent = args.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let workdir = tempfile::Builder::new()
        .prefix("tusk-write-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let guard = interrupt::Guard::install(workdir.path().to_path_buf())?;
    let mut writer_meta: BTreeMap<String, String> = args.meta.iter().cloned().collect();
    writer_meta.entry("actor".into()).or_insert_with(actor);
    let opts = WriteOptions {
        shards: args.shards,
        memory_budget: args.memory,
        on_duplicate: match args.on_duplicate {
            DuplicateArg::Error => OnDuplicate::Error,
            DuplicateArg::First => OnDuplicate::First,
            DuplicateArg::Last => OnDuplicate::Last,
        },
        temp_dir: Some(workdir.path().to_path_buf()),
        threads: args.threads,
        writer_meta,
        shard_format: args.shard_format,
        ..WriteOptions::new(args.target.domain.clone())
    };
    let catalog = args.target.catalog_or_create()?;

    let display = Display::start(
        Mode::detect(show_progress, args.progress_interval, json_logs),
        args.shards,
    );
    let built = tusk_writer::build_from_inputs(&sources, &input, &opts, display.callback())
        .with_context(|| {
            format!(
                "building {} from {}",
                args.target.domain,
                args.inputs.join(", ")
            )
        })?;
    display.set_upload_total(built.stats.shard_bytes);
    let reason = args.reason.clone().unwrap_or_else(|| {
        format!(
            "published by tusk write ({} records)",
            built.manifest.records
        )
    });
    let mut activation = MoveOptions::new(actor(), reason);
    args.gate.apply(&mut activation, args.reason.as_deref())?;
    let activation = (!args.no_activate).then_some(&activation);
    let activated = block_on(tusk_writer::publish(
        &catalog,
        &built,
        activation,
        display.callback(),
    ))?
    .with_context(|| {
        format!(
            "publishing {} version {} to {}",
            args.target.domain,
            built.version(),
            catalog.url()
        )
    })?
    .is_some();
    display.finish();
    // Published (and activated): a signal from here on no longer stops the command.
    // `built` and then `workdir` are removed when they go out of scope.
    guard.disarm();

    let stats = &built.stats;
    let seconds = started.elapsed().as_secs_f64();
    let summary = Summary {
        store: &args.target.store,
        domain: &args.target.domain,
        version: built.version(),
        records: stats.records,
        bytes: stats.shard_bytes,
        input_bytes: stats.input_bytes,
        shards: stats.shards,
        spilled_runs: stats.spilled_runs,
        duplicates_dropped: stats.duplicates_dropped,
        seconds,
        activated,
    };
    if args.json {
        return print_json(&summary);
    }
    let rate = stats.records as f64 / seconds.max(1e-9);
    crate::output::outln!(
        "published {} version {}: {} records, {} in {} shards, {:.2}s ({:.0} records/s){}",
        summary.domain,
        summary.version,
        summary.records,
        human_bytes(summary.bytes),
        summary.shards,
        seconds,
        rate,
        if activated {
            ", activated"
        } else {
            ", not activated (use tusk activate)"
        }
    )?;
    Ok(())
}
