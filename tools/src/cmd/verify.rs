//! `tusk verify`: check a published version end to end.

use anyhow::{Context, bail};
use serde::Serialize;
use tusk_format::Shard;

use super::StoreArgs;
use crate::output::{outln, print_json};
use crate::runtime::block_on;

/// Download every shard of a version and check it against the manifest: size, CRC32,
/// content hash, the shard's own checksums, and its record count.
///
/// Checks the current version unless `--version` is given. Exits non-zero if any shard
/// fails, naming the shard and why.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  tusk verify --store ./store --domain pages --version 20261121T213000Z-7f3a"
)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The version to check (default: the current one).
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,
    /// Print one JSON object per shard, then a summary object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ShardResult {
    shard: u32,
    object: String,
    ok: bool,
    error: Option<String>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    block_on(verify(args))?
}

async fn verify(args: Args) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog().await?;
    let domain = &args.store.domain;
    let version = match args.version {
        Some(v) => v,
        None => match catalog.current(domain).await? {
            Some(c) => c.version,
            None => bail!("{domain} has no current version; pass --version"),
        },
    };
    let manifest = catalog
        .manifest(domain, &version)
        .await
        .with_context(|| format!("reading the manifest of {domain} version {version}"))?;
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let mut failed: Vec<String> = Vec::new();
    for entry in &manifest.shards {
        let dest = scratch.path().join(&entry.object);
        let outcome = async {
            catalog
                .download_shard(
                    &manifest,
                    entry.index,
                    &dest,
                    &tusk_store::DownloadOptions::default(),
                )
                .await?;
            let (path, entry) = (dest.clone(), entry.clone());
            tokio::task::spawn_blocking(move || check_shard(&path, &entry)).await??;
            anyhow::Ok(())
        }
        .await;
        let _ = std::fs::remove_file(&dest);
        let result = ShardResult {
            shard: entry.index,
            object: entry.object.clone(),
            ok: outcome.is_ok(),
            error: outcome.err().map(|e| format!("{e:#}")),
        };
        if let Some(err) = &result.error {
            failed.push(format!("{}: {err}", result.object));
        }
        if args.json {
            print_json(&result)?;
        } else if let Some(err) = &result.error {
            outln!("FAIL  {}  {err}", result.object)?;
        } else {
            outln!(
                "ok    {}  {} records, {} bytes",
                result.object,
                entry.records,
                entry.bytes
            )?;
        }
    }
    if args.json {
        print_json(&serde_json::json!({
            "domain": domain, "version": version, "shards": manifest.shard_count, "failed": failed.len(),
        }))?;
    }
    if let Some(first) = failed.first() {
        let more = match failed.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        bail!(
            "{} of {} shards of {domain} version {version} failed verification: {first}{more}",
            failed.len(),
            manifest.shard_count
        );
    }
    if !args.json {
        outln!(
            "{domain} version {version}: all {} shards verified",
            manifest.shard_count
        )?;
    }
    Ok(())
}

/// Opens a downloaded shard, runs its full checksum pass and compares its record
/// count and content hash (when the manifest has one: format 2) with `entry`'s.
fn check_shard(path: &std::path::Path, entry: &tusk_store::ShardEntry) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: the file is a private scratch copy this command just downloaded; nothing
    // else writes it while it is mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .with_context(|| format!("mapping {}", path.display()))?;
    let shard = Shard::open(&map[..])?;
    shard.verify()?;
    let records = shard.info().records;
    if records != entry.records {
        bail!(
            "holds {records} records, the manifest says {}",
            entry.records
        );
    }
    if let Some(expected) = entry.content_hash {
        let actual = tusk_store::ContentHash::of(&map);
        if actual != expected {
            bail!("has content hash {actual}, the manifest says {expected}");
        }
    }
    Ok(())
}
