//! Writes from memory (plain, create-only, compare-and-swap) and deletes, with the
//! check-then-put fallback for servers without conditional writes.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::errors::{Failure, failure};
use super::retry::retry;
use super::{S3Store, crc32_header, etag_of, quoted};
use crate::{ObjectMeta, PutMode, Result, StoreError};

/// Added to conflicts found in check-then-put mode.
const WEAK_MODE_NOTE: &str = "(check-then-put mode: this S3 server does not support conditional writes, so concurrent writers are not fully excluded)";

impl S3Store {
    /// `ObjectStore::put`.
    pub(super) async fn put_bytes(
        &self,
        key: &str,
        data: Bytes,
        mode: PutMode,
    ) -> Result<ObjectMeta> {
        let conditional = mode != PutMode::Overwrite;
        if conditional && self.no_conditional_writes.load(Ordering::Relaxed) {
            return self.check_then_put(key, data, &mode).await;
        }
        let (attempts, mut outcome) = self.send_put(key, &data, &mode).await;
        let lost_race = matches!(
            outcome,
            Err(Failure::PreconditionFailed | Failure::NotFound)
        );
        if conditional && lost_race && attempts > 1 {
            // An earlier attempt whose answer was lost may have written our bytes.
            if let Some(etag) = self.holds(key, &data).await {
                outcome = Ok(etag);
            }
        }
        let etag = match (outcome, &mode) {
            (Ok(etag), _) => etag,
            (Err(Failure::PreconditionFailed), PutMode::Create) => {
                return Err(StoreError::AlreadyExists {
                    key: self.config.key_url(key),
                });
            }
            (Err(Failure::PreconditionFailed | Failure::NotFound), PutMode::UpdateIf(etag)) => {
                return Err(StoreError::Conflict {
                    key: self.config.key_url(key),
                    detail: format!(
                        "the object is missing or no longer has ETag {etag}; re-read and retry"
                    ),
                });
            }
            (Err(Failure::NotImplemented(detail)), _) if conditional => {
                self.note_no_conditional_writes(&detail);
                return self.check_then_put(key, data, &mode).await;
            }
            (Err(other), _) => return Err(self.error(key, other)),
        };
        Ok(ObjectMeta {
            key: key.to_string(),
            size: data.len() as u64,
            etag,
            last_modified: None,
        })
    }

    /// One PUT (with retries) carrying the CRC32 and the condition of `mode`; returns
    /// the number of attempts made and the new ETag or the failure.
    async fn send_put(
        &self,
        key: &str,
        data: &Bytes,
        mode: &PutMode,
    ) -> (u32, Result<String, Failure>) {
        let client = self.client().await;
        let (bucket, full) = (&self.config.bucket, self.config.full_key(key));
        let full = &full;
        let crc = crc32_header(crc32fast::hash(data));
        let crc = &crc;
        let attempts = AtomicU32::new(0);
        let attempts_ref = &attempts;
        let outcome = retry(self.policy(), || async move {
            attempts_ref.fetch_add(1, Ordering::Relaxed);
            let mut request = client
                .put_object()
                .bucket(bucket)
                .key(full)
                .content_length(i64::try_from(data.len()).unwrap_or(i64::MAX))
                .checksum_crc32(crc)
                .body(ByteStream::from(data.clone()));
            request = match mode {
                PutMode::Overwrite => request,
                PutMode::Create => request.if_none_match("*"),
                PutMode::UpdateIf(etag) => request.if_match(quoted(etag)),
            };
            let output = request.send().await.map_err(failure)?;
            Ok(etag_of(output.e_tag()))
        })
        .await;
        (attempts.load(Ordering::Relaxed), outcome)
    }

    /// The object's ETag if it holds exactly `data`.
    async fn holds(&self, key: &str, data: &Bytes) -> Option<String> {
        let got = self.get_object(key, None).await.ok().flatten()?;
        (got.bytes == *data).then_some(got.etag)
    }

    /// Remembers (and says once) that the server rejects conditional writes.
    fn note_no_conditional_writes(&self, detail: &str) {
        if !self.no_conditional_writes.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                store = %self.config.url(),
                endpoint = %self.resolved().endpoint_label(),
                answer = %detail,
                "the S3 server does not support conditional writes (If-None-Match / If-Match); \
                 falling back to check-then-put, which has a race window between concurrent writers"
            );
        }
    }

    /// The weaker mode: HEAD, check the condition, then a plain PUT.
    async fn check_then_put(&self, key: &str, data: Bytes, mode: &PutMode) -> Result<ObjectMeta> {
        let key_url = self.config.key_url(key);
        let current = match self.head_object(key).await {
            Ok(meta) => Some(meta.etag),
            Err(e) if e.kind() == crate::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        match (mode, current) {
            (PutMode::Create, Some(_)) => {
                return Err(StoreError::Conflict {
                    key: key_url,
                    detail: format!("already exists {WEAK_MODE_NOTE}"),
                });
            }
            (PutMode::UpdateIf(want), current) if current.as_deref() != Some(want.as_str()) => {
                return Err(StoreError::Conflict {
                    key: key_url,
                    detail: format!(
                        "the object is missing or no longer has ETag {want} {WEAK_MODE_NOTE}"
                    ),
                });
            }
            _ => {}
        }
        let (_, outcome) = self.send_put(key, &data, &PutMode::Overwrite).await;
        let etag = outcome.map_err(|f| self.error(key, f))?;
        Ok(ObjectMeta {
            key: key.to_string(),
            size: data.len() as u64,
            etag,
            last_modified: None,
        })
    }

    /// `ObjectStore::delete`: S3 answers 204 for a missing key too.
    pub(super) async fn delete_object(&self, key: &str) -> Result<()> {
        let client = self.client().await;
        let (bucket, full) = (&self.config.bucket, self.config.full_key(key));
        let full = &full;
        let result = retry(self.policy(), || async move {
            client
                .delete_object()
                .bucket(bucket)
                .key(full)
                .send()
                .await
                .map_err(failure)
        })
        .await;
        match result {
            Ok(_) | Err(Failure::NotFound) => Ok(()),
            Err(f) => Err(self.error(key, f)),
        }
    }
}
