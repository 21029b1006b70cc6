//! S3 transfer throughput: how fast shards go up and come down through
//! `tusk_store`, beside one plain GET per object.
//!
//! For each workload (one big shard; a set of small shards) the bench writes random
//! files (SplitMix64) with their CRC32, then times, against any [`ObjectStore`]:
//! 1. upload: `put_file` with several files at once, as `Catalog::publish` does
//!    (the S3 store splits each large file into parallel multipart parts);
//! 2. parallel download: `download_verified` (parallel ranged GETs, CRC32
//!    verified, fsync, rename), several files at once under one shared limit of
//!    ranged GETs, as tusk-server does;
//! 3. plain GET: one GET of each whole object, one object after the other, written
//!    to a file, fsynced, CRC32 checked.
//!
//! Every download is checked against the source's size and CRC32, so a wrong byte
//! stops the run. The `s3` binary starts moto on 127.0.0.1 and runs this.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn tusk_store::ObjectStore>) {
//! use tusk_benches::s3::{S3BenchConfig, run};
//!
//! let config = S3BenchConfig { big_bytes: 64 << 20, shards: 4, ..S3BenchConfig::default() };
//! let dir = tempfile::tempdir().unwrap();
//! let report = run(&store, &config, dir.path(), "my server", &mut |l| eprintln!("{l}"), &mut |_| {})
//!     .await
//!     .unwrap();
//! println!("{}", report.to_table());
//! # }
//! ```

mod args;
pub mod data;
mod error;
pub mod report;
pub mod transfer;

use std::path::Path;
use std::sync::Arc;

use tusk_store::ObjectStore;

pub use args::{S3_USAGE, S3BenchConfig};
pub use data::SourceFile;
pub use error::{S3BenchError, S3Result};
pub use report::{S3Report, Throughput, WorkloadReport};

use crate::machine::Machine;

/// Runs every workload of `config` against `store`, with local files in a temp dir
/// under `parent`. `server` names the store for the report; `log` gets progress
/// lines, `on_workload` each workload as soon as it is measured.
pub async fn run(
    store: &Arc<dyn ObjectStore>,
    config: &S3BenchConfig,
    parent: &Path,
    server: &str,
    log: &mut dyn FnMut(&str),
    on_workload: &mut dyn FnMut(&WorkloadReport),
) -> S3Result<S3Report> {
    let mut report = S3Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: Machine::detect(),
        server: server.to_string(),
        config: config.clone(),
        workloads: Vec::new(),
    };
    let mut workloads = Vec::new();
    if config.big_bytes > 0 {
        workloads.push((1, config.big_bytes));
    }
    if config.shards > 0 {
        workloads.push((config.shards, config.shard_bytes));
    }
    for (number, (files, file_bytes)) in workloads.into_iter().enumerate() {
        let measured = run_workload(store, config, parent, number, files, file_bytes, log).await?;
        on_workload(&measured);
        report.workloads.push(measured);
    }
    Ok(report)
}

/// Measures one workload of `files` files of `file_bytes` each; the objects live
/// under `s3bench/w<number>/` and are deleted afterwards, as are the local files.
pub async fn run_workload(
    store: &Arc<dyn ObjectStore>,
    config: &S3BenchConfig,
    parent: &Path,
    number: usize,
    files: usize,
    file_bytes: u64,
    log: &mut dyn FnMut(&str),
) -> S3Result<WorkloadReport> {
    let name = format!("{files} x {} MiB", file_bytes >> 20);
    let dir = tempfile::Builder::new()
        .prefix("tusk-s3bench-")
        .tempdir_in(parent)
        .map_err(|e| S3BenchError::io("creating a temp dir in", parent, e))?;
    let (source_dir, parallel_dir, plain_dir) = (
        dir.path().join("source"),
        dir.path().join("parallel"),
        dir.path().join("plain"),
    );
    for d in [&source_dir, &parallel_dir, &plain_dir] {
        std::fs::create_dir(d).map_err(|e| S3BenchError::io("creating", d, e))?;
    }

    log(&format!("[{name}] writing random source files"));
    let sources = write_sources(&source_dir, number, files, file_bytes).await?;

    log(&format!(
        "[{name}] upload ({} files at once)",
        config.upload_files
    ));
    let upload = transfer::upload_all(store, &sources, config.upload_files).await?;

    log(&format!(
        "[{name}] parallel verified download ({} files at once, {} ranges)",
        config.download_files, config.ranges
    ));
    let parallel = transfer::download_verified_all(
        store,
        &sources,
        &parallel_dir,
        config.download_files,
        config.ranges,
        config.chunk_bytes,
    )
    .await?;
    remove_dir(&parallel_dir)?;

    log(&format!("[{name}] plain GET, one object at a time"));
    let plain = transfer::download_plain_all(store, &sources, &plain_dir).await?;
    remove_dir(&plain_dir)?;

    transfer::delete_all(store, &sources).await?;
    Ok(WorkloadReport::new(
        files, file_bytes, upload, parallel, plain,
    ))
}

/// Writes the workload's source files on blocking threads (seeds differ per file).
async fn write_sources(
    dir: &Path,
    number: usize,
    files: usize,
    file_bytes: u64,
) -> S3Result<Vec<SourceFile>> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        (0..files)
            .map(|i| {
                let object = format!("shard-{i:05}.tsk");
                let key = format!("s3bench/w{number}/{object}");
                let seed = ((number as u64) << 32) | i as u64;
                data::write_random_file(&dir.join(&object), &key, file_bytes, seed)
            })
            .collect()
    })
    .await
    .map_err(|e| S3BenchError::Task {
        what: "writing source files".to_string(),
        detail: e.to_string(),
    })?
}

fn remove_dir(dir: &Path) -> S3Result<()> {
    std::fs::remove_dir_all(dir).map_err(|e| S3BenchError::io("removing", dir, e))
}
