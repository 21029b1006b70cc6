//! Fetching the missing chunks of an object concurrently, each written at its offset
//! of the `.part` file and recorded in the sidecar once it is on disk.
//!
//! `parallel_ranges` workers pull chunk numbers from one queue. Each takes a range
//! permit and rate-limiter tokens, reads its range from the store, then (on a
//! blocking thread) computes the chunk's CRC32 and writes it with `write_all_at`
//! (no fsync: the file is synced once, whole, before it is renamed into place;
//! see `download.rs`). Completed chunks flow to one recorder that owns the sidecar. After the
//! first error no new chunk starts, but chunks already in flight finish and are
//! recorded, so nothing fetched is fetched twice on resume.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::DownloadOptions;
use super::progress::{self, ChunkCrc, VerifiedChunks};
use crate::blocking::run_blocking;
use crate::{ObjectStore, Result, StoreError};

/// One download in progress: where it writes and what it has done.
pub(crate) struct ChunkJob<'a> {
    pub store: &'a dyn ObjectStore,
    pub key: &'a str,
    pub part: PathBuf,
    pub sidecar: PathBuf,
    pub file: Arc<File>,
    pub options: &'a DownloadOptions,
}

/// Fetches every chunk of `progress` not yet listed, updating `progress` (and the
/// sidecar) as chunks land. Returns the bytes fetched, or the first error (after
/// in-flight chunks have been recorded).
pub(crate) async fn fetch_missing(
    job: &ChunkJob<'_>,
    progress: &mut VerifiedChunks,
) -> Result<u64> {
    let chunk_count = progress.size.div_ceil(progress.chunk_size);
    let done: HashSet<u64> = progress.chunks.iter().map(|c| c.index).collect();
    let missing: VecDeque<u64> = (0..chunk_count).filter(|i| !done.contains(i)).collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let workers = job.options.parallel_ranges.max(1).min(missing.len());
    let queue = Mutex::new(missing);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::unbounded_channel();
    let pool: Vec<_> = (0..workers)
        .map(|_| {
            Box::pin(worker(
                job,
                &queue,
                &stop,
                progress.size,
                progress.chunk_size,
                tx.clone(),
            ))
        })
        .collect();
    drop(tx);
    let ((), outcome) = tokio::join!(JoinAll(pool), record(job, progress, rx, &stop));
    outcome
}

/// A chunk fetched and on disk, or the error that stopped a worker.
type Landed = Result<(ChunkCrc, u64)>;

async fn worker(
    job: &ChunkJob<'_>,
    queue: &Mutex<VecDeque<u64>>,
    stop: &AtomicBool,
    size: u64,
    chunk_size: u64,
    tx: mpsc::UnboundedSender<Landed>,
) {
    while !stop.load(Ordering::Relaxed) {
        let next = queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop_front();
        let Some(index) = next else { return };
        let offset = index * chunk_size;
        let len = chunk_size.min(size - offset);
        let landed = fetch_chunk(job, offset, len, size)
            .await
            .map(|crc32| (ChunkCrc { index, crc32 }, len));
        let failed = landed.is_err();
        if failed {
            stop.store(true, Ordering::Relaxed);
        }
        // The receiver lives until every worker is done.
        let _ = tx.send(landed);
        if failed {
            return;
        }
    }
}

/// Reads one range and writes it at its offset; returns its CRC32.
async fn fetch_chunk(job: &ChunkJob<'_>, offset: u64, len: u64, size: u64) -> Result<u32> {
    let permit = match &job.options.range_permits {
        Some(permits) => Some(Arc::clone(permits).acquire_owned().await.map_err(|_| {
            StoreError::io(&job.part, std::io::Error::other("download limiter closed"))
        })?),
        None => None,
    };
    if let Some(limiter) = &job.options.rate_limiter {
        limiter.acquire(len).await;
    }
    let bytes = job.store.get_range(job.key, offset, len).await?;
    drop(permit);
    if bytes.len() as u64 != len {
        return Err(StoreError::Checksum {
            key: job.key.to_string(),
            detail: format!(
                "object ended early: {} bytes at offset {offset} instead of {len} (expected {size} bytes in all)",
                bytes.len()
            ),
        });
    }
    let file = Arc::clone(&job.file);
    let part = job.part.clone();
    run_blocking("download", move || {
        let crc = crc32fast::hash(&bytes);
        file.write_all_at(&bytes, offset)
            .map_err(|e| StoreError::io(&part, e))?;
        Ok(crc)
    })
    .await
}

/// Records landed chunks in `progress` and the sidecar; returns the bytes fetched or
/// the first error.
async fn record(
    job: &ChunkJob<'_>,
    progress: &mut VerifiedChunks,
    mut rx: mpsc::UnboundedReceiver<Landed>,
    stop: &AtomicBool,
) -> Result<u64> {
    let mut fetched = 0u64;
    let mut first_error = None;
    while let Some(landed) = rx.recv().await {
        let (chunk, len) = match landed {
            Ok(done) => done,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        fetched += len;
        progress.chunks.push(chunk);
        if let Err(e) = save(&job.sidecar, progress).await {
            stop.store(true, Ordering::Relaxed);
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(fetched),
    }
}

/// Writes the sidecar on a blocking thread.
pub(crate) async fn save(sidecar: &Path, progress: &VerifiedChunks) -> Result<()> {
    let (path, snapshot) = (sidecar.to_path_buf(), progress.clone());
    run_blocking("download", move || progress::write(&path, &snapshot)).await
}

/// Polls every future until all are done (a dependency-free `join_all` for a
/// handful of futures).
struct JoinAll<F>(Vec<Pin<Box<F>>>);

impl<F: Future<Output = ()>> Future for JoinAll<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if self.0.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
