//! Verified download of one object to a local file.
//!
//! Today: one `head` (the size must match the manifest before any byte is fetched),
//! then sequential ranged reads of [`CHUNK`] bytes, each written to `<dest>.part` and
//! fed to a streaming CRC32 on a blocking thread; size and CRC are checked at the
//! end, then fsync and rename. Parallel ranges and resume plug in at
//! [`fetch_into`].

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{ObjectStore, Result, StoreError};

/// Bytes per ranged read.
pub(crate) const CHUNK: u64 = 8 << 20;

/// Downloads `key` to `dest`: writes `dest` + `.part` in chunks while computing the
/// CRC32, checks size and checksum against `expected_size` / `expected_crc32`,
/// fsyncs, then renames into place. On any error the partial file is removed and
/// `dest` is untouched.
pub async fn download_verified(
    store: &dyn ObjectStore,
    key: &str,
    dest: &Path,
    expected_size: u64,
    expected_crc32: u32,
) -> Result<()> {
    let meta = store.head(key).await?;
    if meta.size != expected_size {
        return Err(size_mismatch(key, expected_size, meta.size));
    }
    let part = part_path(dest);
    let file = open_part(&part).await?;
    let outcome = fetch_into(store, key, &part, file, expected_size).await;
    let outcome = match outcome {
        Ok(actual_crc) if actual_crc != expected_crc32 => Err(StoreError::Checksum {
            key: key.to_string(),
            detail: format!(
                "expected crc32 {expected_crc32:08x}, downloaded bytes have {actual_crc:08x}"
            ),
        }),
        Ok(_) => commit(&part, dest).await,
        Err(e) => Err(e),
    };
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    outcome
}

fn size_mismatch(key: &str, expected: u64, actual: u64) -> StoreError {
    StoreError::Checksum {
        key: key.to_string(),
        detail: format!("expected {expected} bytes, the object has {actual}"),
    }
}

/// `<dest>.part`
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Creates the parent directories and an empty `.part` file (truncating a leftover).
async fn open_part(part: &Path) -> Result<File> {
    let part = part.to_path_buf();
    run_blocking(move || {
        if let Some(parent) = part.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        File::create(&part).map_err(|e| StoreError::io(&part, e))
    })
    .await
}

/// Reads the object in chunks into `file`; returns the CRC32 of all bytes.
async fn fetch_into(
    store: &dyn ObjectStore,
    key: &str,
    part: &Path,
    file: File,
    size: u64,
) -> Result<u32> {
    let mut state = (file, crc32fast::Hasher::new());
    let mut offset = 0u64;
    while offset < size {
        let want = CHUNK.min(size - offset);
        let chunk = store.get_range(key, offset, want).await?;
        if chunk.len() as u64 != want {
            return Err(StoreError::Checksum {
                key: key.to_string(),
                detail: format!(
                    "object ended early: {} bytes at offset {offset} instead of {want} (expected {size} bytes in all)",
                    chunk.len()
                ),
            });
        }
        offset += want;
        let path = part.to_path_buf();
        state = run_blocking(move || {
            let (mut file, mut hasher) = state;
            hasher.update(&chunk);
            file.write_all(&chunk)
                .map_err(|e| StoreError::io(&path, e))?;
            Ok((file, hasher))
        })
        .await?;
    }
    let (file, hasher) = state;
    let path = part.to_path_buf();
    run_blocking(move || file.sync_all().map_err(|e| StoreError::io(&path, e))).await?;
    Ok(hasher.finalize())
}

/// Renames the verified `.part` file to `dest` and fsyncs the directory.
async fn commit(part: &Path, dest: &Path) -> Result<()> {
    let (part, dest) = (part.to_path_buf(), dest.to_path_buf());
    run_blocking(move || {
        std::fs::rename(&part, &dest).map_err(|e| StoreError::io(&dest, e))?;
        #[cfg(unix)]
        if let Some(parent) = dest.parent() {
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| StoreError::io(parent, e))?;
        }
        Ok(())
    })
    .await
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::Io {
            path: "download".to_string(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}
