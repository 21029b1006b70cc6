//! The three timed transfers: upload the way `Catalog::publish` does, download the
//! way tusk-server does (`download_verified`), and one plain GET per object.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tusk_store::{DownloadOptions, ObjectStore, download_verified};

use super::data::SourceFile;
use super::error::{S3BenchError, S3Result};

/// Where a downloaded copy of `file` goes under `dir`: the source's file name.
pub fn dest_path(dir: &Path, file: &SourceFile) -> PathBuf {
    match file.path.file_name() {
        Some(name) => dir.join(name),
        None => dir.join(file.key.replace('/', "_")),
    }
}

/// Uploads every file with `put_file` (multipart for large files), `files_at_once`
/// files at a time, as `Catalog::publish` does. Returns the wall time.
pub async fn upload_all(
    store: &Arc<dyn ObjectStore>,
    files: &[SourceFile],
    files_at_once: usize,
) -> S3Result<Duration> {
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for file in files {
        while tasks.len() >= files_at_once.max(1) {
            join_one(&mut tasks, "upload").await?;
        }
        let (store, file) = (Arc::clone(store), file.clone());
        tasks.spawn(async move {
            let meta = store
                .put_file(&file.key, &file.path, file.crc32)
                .await
                .map_err(|e| S3BenchError::store("uploading", &file.key, e))?;
            if meta.size != file.size {
                return Err(S3BenchError::Mismatch {
                    key: file.key,
                    detail: format!(
                        "uploaded {} bytes, the store holds {}",
                        file.size, meta.size
                    ),
                });
            }
            Ok(())
        });
    }
    while !tasks.is_empty() {
        join_one(&mut tasks, "upload").await?;
    }
    Ok(start.elapsed())
}

/// Downloads every file into `dir` with `download_verified` (parallel ranged
/// GETs, CRC32 checked against the source, fsync, rename), `files_at_once` files at
/// a time, with `ranges` ranged GETs per file and at most `ranges` in flight in
/// total, as tusk-server does. Returns the wall time.
pub async fn download_verified_all(
    store: &Arc<dyn ObjectStore>,
    files: &[SourceFile],
    dir: &Path,
    files_at_once: usize,
    ranges: usize,
    chunk_bytes: u64,
) -> S3Result<Duration> {
    let options = Arc::new(DownloadOptions {
        chunk_size: chunk_bytes,
        parallel_ranges: ranges,
        rate_limiter: None,
        range_permits: Some(Arc::new(Semaphore::new(
            ranges.clamp(1, Semaphore::MAX_PERMITS),
        ))),
    });
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for file in files {
        while tasks.len() >= files_at_once.max(1) {
            join_one(&mut tasks, "verified download").await?;
        }
        let (store, file, options) = (Arc::clone(store), file.clone(), Arc::clone(&options));
        let dest = dest_path(dir, &file);
        tasks.spawn(async move {
            let report =
                download_verified(&*store, &file.key, &dest, file.size, file.crc32, &options)
                    .await
                    .map_err(|e| S3BenchError::store("downloading", &file.key, e))?;
            if report.fetched_bytes != file.size {
                // Anything reused from disk would flatter the figure.
                return Err(S3BenchError::Mismatch {
                    key: file.key,
                    detail: format!(
                        "fetched {} of {} bytes ({} reused from a previous download)",
                        report.fetched_bytes, file.size, report.reused_bytes
                    ),
                });
            }
            Ok(())
        });
    }
    while !tasks.is_empty() {
        join_one(&mut tasks, "verified download").await?;
    }
    Ok(start.elapsed())
}

/// Downloads every file into `dir` one after the other, each with ONE plain GET of
/// the whole object, written to a file and fsynced; its size and CRC32 are checked
/// against the source (same work as the verified path, minus the parallelism).
/// Returns the wall time.
pub async fn download_plain_all(
    store: &Arc<dyn ObjectStore>,
    files: &[SourceFile],
    dir: &Path,
) -> S3Result<Duration> {
    let start = Instant::now();
    for file in files {
        let got = store
            .get(&file.key)
            .await
            .map_err(|e| S3BenchError::store("getting", &file.key, e))?;
        let dest = dest_path(dir, file);
        let bytes = got.bytes;
        let write_to = dest.clone();
        let crc = tokio::task::spawn_blocking(move || {
            std::fs::File::create(&write_to)
                .and_then(|mut f| {
                    std::io::Write::write_all(&mut f, &bytes)?;
                    f.sync_all()
                })
                .map(|()| (bytes.len() as u64, crc32fast::hash(&bytes)))
        })
        .await
        .map_err(|e| S3BenchError::Task {
            what: format!("writing {}", dest.display()),
            detail: e.to_string(),
        })?
        .map_err(|e| S3BenchError::io("writing", &dest, e))?;
        if crc != (file.size, file.crc32) {
            return Err(S3BenchError::Mismatch {
                key: file.key.clone(),
                detail: format!(
                    "expected {} bytes of CRC32 {:08x}, a plain GET gave {} bytes of CRC32 {:08x}",
                    file.size, file.crc32, crc.0, crc.1
                ),
            });
        }
    }
    Ok(start.elapsed())
}

/// Deletes the objects of `files` (moto keeps them in memory).
pub async fn delete_all(store: &Arc<dyn ObjectStore>, files: &[SourceFile]) -> S3Result<()> {
    for file in files {
        store
            .delete(&file.key)
            .await
            .map_err(|e| S3BenchError::store("deleting", &file.key, e))?;
    }
    Ok(())
}

async fn join_one(tasks: &mut JoinSet<S3Result<()>>, what: &str) -> S3Result<()> {
    match tasks.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(S3BenchError::Task {
            what: what.to_string(),
            detail: e.to_string(),
        }),
        None => Ok(()),
    }
}
