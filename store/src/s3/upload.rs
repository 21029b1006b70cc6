//! `put_file`: one PUT for small files, a parallel multipart upload for large ones,
//! always with CRC32 checksums the server verifies.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::errors::{Failure, chain, failure};
use super::retry::retry;
use super::{S3Store, crc32_header, etag_of};
use crate::blocking::run_blocking;
use crate::{ObjectMeta, PutMode, Result, StoreError};

/// Files of at least this size are uploaded in parts.
pub(crate) const MULTIPART_THRESHOLD: u64 = 16 << 20;
/// Part size (AWS advises 8-16 MiB); grows for files that would need more parts.
const PART_SIZE: u64 = 8 << 20;
/// S3's limit on the number of parts.
const MAX_PARTS: u64 = 10_000;
/// Parts in flight at once, per file.
const PARALLEL_PARTS: usize = 8;

/// The part size for a file of `size` bytes: [`PART_SIZE`], or more (in whole MiB) so
/// that at most [`MAX_PARTS`] parts are needed.
pub(crate) fn part_size(size: u64) -> u64 {
    let needed = size.div_ceil(MAX_PARTS).div_ceil(1 << 20) << 20;
    needed.max(PART_SIZE)
}

/// Reads `len` bytes at `offset` of `path`, returning their CRC32 hasher (and the
/// bytes themselves when `keep`).
fn read_part(
    path: &Path,
    offset: u64,
    len: u64,
    keep: bool,
) -> std::io::Result<(crc32fast::Hasher, Vec<u8>)> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = file.take(len);
    let mut hasher = crc32fast::Hasher::new();
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if keep {
            kept.extend_from_slice(&buf[..n]);
        }
        read += n as u64;
    }
    if read != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("expected {len} bytes at offset {offset}, the file ended after {read}"),
        ));
    }
    Ok((hasher, kept))
}

fn crc_mismatch(store: &S3Store, key: &str, path: &Path, want: u32, got: u32) -> StoreError {
    StoreError::Checksum {
        key: store.config.key_url(key),
        detail: format!(
            "{} has CRC32 {got:08x}, the caller expected {want:08x}; nothing was stored",
            path.display()
        ),
    }
}

impl S3Store {
    /// `ObjectStore::put_file`.
    pub(super) async fn upload_file(
        &self,
        key: &str,
        path: &Path,
        crc32: u32,
    ) -> Result<ObjectMeta> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| StoreError::io(path, e))?
            .len();
        if size < MULTIPART_THRESHOLD {
            let owned = path.to_path_buf();
            let p = path.to_path_buf();
            let (hasher, bytes) = run_blocking(path.display(), move || {
                read_part(&owned, 0, size, true).map_err(|e| StoreError::io(&p, e))
            })
            .await?;
            let got = hasher.finalize();
            if got != crc32 {
                return Err(crc_mismatch(self, key, path, crc32, got));
            }
            return self
                .put_bytes(key, Bytes::from(bytes), PutMode::Overwrite)
                .await;
        }
        self.multipart(key, path, size, crc32).await
    }

    async fn multipart(&self, key: &str, path: &Path, size: u64, crc32: u32) -> Result<ObjectMeta> {
        let client = self.client().await;
        let (bucket, full) = (&self.config.bucket, self.config.full_key(key));
        let full_ref = &full;
        let created = retry(self.policy(), || async move {
            client
                .create_multipart_upload()
                .bucket(bucket)
                .key(full_ref)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .send()
                .await
                .map_err(failure)
        })
        .await
        .map_err(|f| self.error(key, f))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        if upload_id.is_empty() {
            return Err(self.error(
                key,
                Failure::Other {
                    detail: "CreateMultipartUpload answered without an upload id".to_string(),
                    retryable: false,
                },
            ));
        }
        let outcome = match self.upload_parts(key, path, size, &upload_id).await {
            Ok(parts) => self.complete(key, path, crc32, &upload_id, parts).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(etag) => Ok(ObjectMeta {
                key: key.to_string(),
                size,
                etag,
                last_modified: None,
            }),
            Err(e) => {
                self.abort(key, &upload_id).await;
                Err(e)
            }
        }
    }

    /// Uploads every part, at most [`PARALLEL_PARTS`] at once; returns them in order
    /// with their CRC32 hashers.
    async fn upload_parts(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        upload_id: &str,
    ) -> Result<Vec<(CompletedPart, crc32fast::Hasher)>> {
        let client = self.client().await.clone();
        let part_len = part_size(size);
        let permits = Arc::new(Semaphore::new(PARALLEL_PARTS));
        let mut tasks = JoinSet::new();
        let shared = Arc::new((
            client,
            self.config.bucket.clone(),
            self.config.full_key(key),
            upload_id.to_string(),
            path.to_path_buf(),
        ));
        for (index, offset) in (0..size).step_by(part_len as usize).enumerate() {
            let len = part_len.min(size - offset);
            let number = i32::try_from(index + 1).expect("at most 10,000 parts");
            let (shared, permits, policy) = (shared.clone(), permits.clone(), self.policy());
            tasks.spawn(async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let (client, bucket, full, upload_id, path) = &*shared;
                upload_part(
                    client, bucket, full, upload_id, path, number, offset, len, policy,
                )
                .await
            });
        }
        let mut parts = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let part = match joined {
                Ok(Ok(part)) => part,
                Ok(Err(PartError::Io(path, e))) => return Err(StoreError::io(path, e)),
                Ok(Err(PartError::S3(f))) => return Err(self.error(key, f)),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => return Err(self.error(key, Failure::transient(e.to_string()))),
            };
            parts.push(part);
        }
        parts.sort_by_key(|(p, _)| p.part_number());
        Ok(parts)
    }

    /// Checks the combined CRC32 of the parts, then completes the upload.
    async fn complete(
        &self,
        key: &str,
        path: &Path,
        crc32: u32,
        upload_id: &str,
        parts: Vec<(CompletedPart, crc32fast::Hasher)>,
    ) -> Result<String> {
        let mut whole = crc32fast::Hasher::new();
        for (_, hasher) in &parts {
            whole.combine(hasher);
        }
        let got = whole.finalize();
        if got != crc32 {
            return Err(crc_mismatch(self, key, path, crc32, got));
        }
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(parts.into_iter().map(|(p, _)| p).collect()))
            .build();
        let client = self.client().await;
        let (bucket, full) = (&self.config.bucket, self.config.full_key(key));
        let (full, done) = (&full, &done);
        let output = retry(self.policy(), || async move {
            client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(full)
                .upload_id(upload_id)
                .multipart_upload(done.clone())
                .send()
                .await
                .map_err(failure)
        })
        .await
        .map_err(|f| self.error(key, f))?;
        Ok(etag_of(output.e_tag()))
    }

    /// Aborts a failed upload so its parts do not linger (and cost); best effort.
    async fn abort(&self, key: &str, upload_id: &str) {
        let client = self.client().await;
        let (bucket, full) = (&self.config.bucket, self.config.full_key(key));
        let full = &full;
        let result = retry(self.policy(), || async move {
            client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(full)
                .upload_id(upload_id)
                .send()
                .await
                .map_err(failure)
        })
        .await;
        if let Err(f) = result {
            tracing::warn!(
                object = %self.config.key_url(key),
                upload_id,
                error = %self.error(key, f),
                "could not abort a failed multipart upload; a bucket lifecycle rule should clean it up"
            );
        }
    }
}

/// Why one part failed.
enum PartError {
    Io(PathBuf, std::io::Error),
    S3(Failure),
}

/// Hashes one part (off the async workers), then uploads it streamed from the file.
#[allow(clippy::too_many_arguments)]
async fn upload_part(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    full: &str,
    upload_id: &str,
    path: &Path,
    number: i32,
    offset: u64,
    len: u64,
    policy: super::retry::RetryPolicy,
) -> std::result::Result<(CompletedPart, crc32fast::Hasher), PartError> {
    let owned = path.to_path_buf();
    let hashed = tokio::task::spawn_blocking(move || read_part(&owned, offset, len, false)).await;
    let hasher = match hashed {
        Ok(Ok((hasher, _))) => hasher,
        Ok(Err(e)) => return Err(PartError::Io(path.to_path_buf(), e)),
        Err(e) => {
            return Err(PartError::Io(
                path.to_path_buf(),
                std::io::Error::other(e.to_string()),
            ));
        }
    };
    let crc = crc32_header(hasher.clone().finalize());
    let crc = &crc;
    let etag = retry(policy, || async move {
        let body = ByteStream::read_from()
            .path(path)
            .offset(offset)
            .length(Length::Exact(len))
            .build()
            .await
            .map_err(|e| Failure::Other {
                detail: format!("reading {}: {}", path.display(), chain(&e)),
                retryable: false,
            })?;
        let output = client
            .upload_part()
            .bucket(bucket)
            .key(full)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(i64::try_from(len).unwrap_or(i64::MAX))
            .checksum_crc32(crc)
            .body(body)
            .send()
            .await
            .map_err(failure)?;
        Ok(output.e_tag().unwrap_or_default().to_string())
    })
    .await
    .map_err(PartError::S3)?;
    let part = CompletedPart::builder()
        .part_number(number)
        .e_tag(etag)
        .checksum_crc32(crc)
        .build();
    Ok((part, hasher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_stay_within_s3_limits() {
        assert_eq!(part_size(MULTIPART_THRESHOLD), PART_SIZE);
        assert_eq!(part_size(40 << 20), PART_SIZE);
        assert_eq!(part_size(MAX_PARTS * PART_SIZE), PART_SIZE);
        let huge = 5u64 << 40; // 5 TiB, S3's object size limit
        let p = part_size(huge);
        assert!(huge.div_ceil(p) <= MAX_PARTS, "{p}");
        assert_eq!(p % (1 << 20), 0, "whole MiB");
    }

    #[test]
    fn parts_hash_to_the_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let mut whole = crc32fast::Hasher::new();
        for offset in (0..data.len() as u64).step_by(1_000_000) {
            let (h, kept) = read_part(&path, offset, 1_000_000, true).expect("read");
            assert_eq!(kept.len(), 1_000_000);
            whole.combine(&h);
        }
        assert_eq!(whole.finalize(), crc32fast::hash(&data));
        let err = read_part(&path, 2_500_000, 1_000_000, false).expect_err("past the end");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
