//! Verified, parallel, resumable download of one object to a local file.
//!
//! 1. `head` gives the size (it must equal the manifest's before any byte is
//!    fetched) and the ETag.
//! 2. A `dest` already holding exactly the expected bytes (size and CRC32, checked
//!    on disk) is kept: nothing is fetched.
//! 3. `<dest>.part` is pre-sized; its sidecar `<dest>.part.progress` (see
//!    `download/progress.rs`) lists the chunks already on disk. A sidecar for the
//!    same key, ETag, size and chunk size is resumed: each listed chunk is re-read
//!    and kept only if its CRC32 still matches. Anything else starts over.
//! 4. Missing chunks are fetched concurrently (`download/fetch.rs`), written at
//!    their offsets, recorded in the sidecar (neither is fsynced: a resume
//!    re-verifies every listed chunk, so an unsynced one lost in a crash is just
//!    fetched again).
//! 5. The whole-file CRC32 is the chunks' CRCs combined in order; it must equal the
//!    manifest's. Then one fsync of the whole file, rename to `dest`, fsync the
//!    directory, delete the sidecar. So a file appears under its name only with
//!    all its bytes durable, and the caller's completeness marker (written after
//!    every file returned) never names a torn file.
//!
//! On failure `dest` is untouched. A corrupt object (size or CRC mismatch, object
//! shorter than announced) or a vanished one (`NotFound`) removes `.part` and
//! sidecar: resuming would not help. Any other failure (network, timeout, throttling,
//! a local disk error) keeps them, so the next call fetches only what is missing.
//!
//! A crash can lose: chunks not yet synced or listed, or the sidecar (fetched
//! again); nothing else, since every kept chunk is re-verified.

mod fetch;
mod options;
mod progress;
mod rate;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use options::{DEFAULT_CHUNK_SIZE, DEFAULT_PARALLEL_RANGES, DownloadOptions, DownloadReport};
pub use rate::RateLimiter;

use progress::{ChunkCrc, VerifiedChunks};

use crate::blocking::run_blocking;
use crate::{ErrorKind, ObjectStore, Result, StoreError};

/// Downloads `key` to `dest` with parallel ranged reads, resuming a previous
/// attempt's verified chunks, under the limits in `options`. Size and CRC32 are
/// checked against `expected_size` / `expected_crc32` before `dest` appears.
///
/// Errors: `Checksum` (kind `Corrupt`) when the object's size or bytes differ from
/// the expectation (partial files removed); the store's error when a read fails
/// (partial files kept for resume unless it is `NotFound`); `Io` for local files;
/// `Invalid` for a zero `chunk_size`.
pub async fn download_verified(
    store: &dyn ObjectStore,
    key: &str,
    dest: &Path,
    expected_size: u64,
    expected_crc32: u32,
    options: &DownloadOptions,
) -> Result<DownloadReport> {
    if options.chunk_size == 0 {
        return Err(StoreError::Invalid {
            what: "download chunk size".to_string(),
            detail: "must be at least 1 byte".to_string(),
        });
    }
    let part = part_path(dest);
    let sidecar = progress::sidecar_path(&part);
    let outcome = attempt(
        store,
        key,
        dest,
        &part,
        &sidecar,
        expected_size,
        expected_crc32,
        options,
    )
    .await;
    if let Err(e) = &outcome
        && matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::NotFound)
    {
        let _ = tokio::fs::remove_file(&part).await;
        let _ = tokio::fs::remove_file(&sidecar).await;
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    store: &dyn ObjectStore,
    key: &str,
    dest: &Path,
    part: &Path,
    sidecar: &Path,
    expected_size: u64,
    expected_crc32: u32,
    options: &DownloadOptions,
) -> Result<DownloadReport> {
    let meta = store.head(key).await?;
    if meta.size != expected_size {
        return Err(StoreError::Checksum {
            key: key.to_string(),
            detail: format!(
                "expected {expected_size} bytes, the object has {}",
                meta.size
            ),
        });
    }
    if already_complete(dest, expected_size, expected_crc32).await? {
        return Ok(DownloadReport {
            fetched_bytes: 0,
            reused_bytes: expected_size,
        });
    }
    let wanted = VerifiedChunks::new(key, &meta.etag, expected_size, options.chunk_size);
    let (file, mut progress) = open_or_resume(part, sidecar, wanted).await?;
    let reused_bytes = chunk_bytes(&progress, &progress.chunks);
    if !progress.chunks.is_empty() {
        tracing::info!(key, path = %part.display(), chunks = progress.chunks.len(), bytes = reused_bytes,
            "resuming download from chunks verified on disk");
    }
    let job = fetch::ChunkJob {
        store,
        key,
        part: part.to_path_buf(),
        sidecar: sidecar.to_path_buf(),
        file: Arc::clone(&file),
        options,
    };
    let fetched_bytes = fetch::fetch_missing(&job, &mut progress).await?;
    let actual = combined_crc(&progress);
    if actual != expected_crc32 {
        return Err(StoreError::Checksum {
            key: key.to_string(),
            detail: format!(
                "expected crc32 {expected_crc32:08x}, downloaded bytes have {actual:08x}"
            ),
        });
    }
    commit(file, part, sidecar, dest).await?;
    Ok(DownloadReport {
        fetched_bytes,
        reused_bytes,
    })
}

/// `<dest>.part`
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// True when `dest` exists with exactly `size` bytes of CRC32 `crc`. A `dest` that
/// does not match is removed (it will be replaced).
async fn already_complete(dest: &Path, size: u64, crc: u32) -> Result<bool> {
    let dest = dest.to_path_buf();
    run_blocking("download", move || {
        let mut file = match File::open(&dest) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StoreError::io(&dest, e)),
        };
        let len = file.metadata().map_err(|e| StoreError::io(&dest, e))?.len();
        let matches = len == size && file_crc(&mut file).map_err(|e| StoreError::io(&dest, e))? == crc;
        if !matches {
            tracing::warn!(path = %dest.display(), "replacing a local file that does not match the manifest");
            std::fs::remove_file(&dest).map_err(|e| StoreError::io(&dest, e))?;
        }
        Ok(matches)
    })
    .await
}

fn file_crc(file: &mut File) -> std::io::Result<u32> {
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize());
        }
        hasher.update(&buf[..n]);
    }
}

/// Opens `.part` for resuming when its sidecar matches `wanted` (keeping the chunks
/// that still verify), else starts a fresh, pre-sized `.part` with an empty sidecar.
async fn open_or_resume(
    part: &Path,
    sidecar: &Path,
    wanted: VerifiedChunks,
) -> Result<(Arc<File>, VerifiedChunks)> {
    let (part, sidecar) = (part.to_path_buf(), sidecar.to_path_buf());
    run_blocking("download", move || {
        if let Some(found) = progress::read(&sidecar).filter(|p| p.matches(&wanted))
            && let Ok(file) = OpenOptions::new().read(true).write(true).open(&part)
            && file.metadata().is_ok_and(|m| m.len() == wanted.size)
        {
            let mut resumed = wanted;
            resumed.chunks = progress::verify_on_disk(&part, &file, &found);
            progress::write(&sidecar, &resumed)?;
            return Ok((Arc::new(file), resumed));
        }
        if let Some(parent) = part.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&part)
            .map_err(|e| StoreError::io(&part, e))?;
        file.set_len(wanted.size)
            .map_err(|e| StoreError::io(&part, e))?;
        progress::write(&sidecar, &wanted)?;
        Ok((Arc::new(file), wanted))
    })
    .await
}

/// Total bytes of `chunks`.
fn chunk_bytes(progress: &VerifiedChunks, chunks: &[ChunkCrc]) -> u64 {
    chunks
        .iter()
        .map(|c| {
            progress
                .chunk_size
                .min(progress.size - c.index * progress.chunk_size)
        })
        .sum()
}

/// The whole object's CRC32: the chunks' CRCs combined in order. Every chunk must be
/// listed (the caller fetched the missing ones).
fn combined_crc(progress: &VerifiedChunks) -> u32 {
    let mut chunks = progress.chunks.clone();
    chunks.sort_by_key(|c| c.index);
    let mut whole = crc32fast::Hasher::new();
    for c in &chunks {
        let len = progress
            .chunk_size
            .min(progress.size - c.index * progress.chunk_size);
        whole.combine(&crc32fast::Hasher::new_with_initial_len(c.crc32, len));
    }
    whole.finalize()
}

/// Fsyncs the verified `.part`, renames it to `dest`, fsyncs the directory, then
/// removes the sidecar.
async fn commit(file: Arc<File>, part: &Path, sidecar: &Path, dest: &Path) -> Result<()> {
    let (part, sidecar, dest) = (
        part.to_path_buf(),
        sidecar.to_path_buf(),
        dest.to_path_buf(),
    );
    run_blocking("download", move || {
        file.sync_all().map_err(|e| StoreError::io(&part, e))?;
        drop(file);
        std::fs::rename(&part, &dest).map_err(|e| StoreError::io(&dest, e))?;
        if let Some(parent) = dest.parent() {
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| StoreError::io(parent, e))?;
        }
        // Without its .part the sidecar is inert; a leftover is swept or replaced.
        match std::fs::remove_file(&sidecar) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&sidecar, e)),
        }
    })
    .await
}
