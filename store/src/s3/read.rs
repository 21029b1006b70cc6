//! Reads: GET (whole, conditional, ranged), HEAD and LIST.

use std::time::SystemTime;

use bytes::Bytes;

use super::errors::{Failure, chain, failure};
use super::retry::retry;
use super::{S3Store, etag_of, quoted};
use crate::{GetResult, ObjectMeta, Result};

fn system_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<SystemTime> {
    t.and_then(|t| SystemTime::try_from(*t).ok())
}

fn size_of(len: Option<i64>) -> u64 {
    len.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

impl S3Store {
    /// GET `key`; with `if_none_match`, `None` when its ETag still matches (304).
    pub(super) async fn get_object(
        &self,
        key: &str,
        if_none_match: Option<&str>,
    ) -> Result<Option<GetResult>> {
        let client = self.client().await;
        let (bucket, full) = (&self.config.bucket, self.config.full_key(key));
        let full = &full;
        let result = retry(self.policy(), || async move {
            let mut request = client.get_object().bucket(bucket).key(full);
            if let Some(etag) = if_none_match {
                request = request.if_none_match(quoted(etag));
            }
            let output = match request.send().await.map_err(failure) {
                Ok(output) => output,
                Err(Failure::NotModified) => return Ok(None),
                Err(other) => return Err(other),
            };
            let etag = etag_of(output.e_tag());
            let bytes = output
                .body
                .collect()
                .await
                .map_err(|e| Failure::transient(format!("reading the answer: {}", chain(&e))))?
                .into_bytes();
            Ok(Some(GetResult { bytes, etag }))
        })
        .await;
        result.map_err(|f| self.error(key, f))
    }

    /// Up to `len` bytes at `offset`; empty at or past the end (S3 answers 416).
    pub(super) async fn read_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        if len == 0 {
            // Nothing to read, but a missing object is still NotFound.
            self.head_object(key).await?;
            return Ok(Bytes::new());
        }
        let client = self.client().await;
        let (bucket, full) = (&self.config.bucket, self.config.full_key(key));
        let full = &full;
        let range = format!("bytes={offset}-{}", offset.saturating_add(len - 1));
        let range = &range;
        let result = retry(self.policy(), || async move {
            let request = client.get_object().bucket(bucket).key(full).range(range);
            let output = match request.send().await.map_err(failure) {
                Ok(output) => output,
                Err(Failure::InvalidRange) => return Ok(Bytes::new()),
                Err(other) => return Err(other),
            };
            let ranged = output.content_range().is_some();
            let bytes = output
                .body
                .collect()
                .await
                .map_err(|e| Failure::transient(format!("reading the answer: {}", chain(&e))))?
                .into_bytes();
            if ranged {
                return Ok(bytes);
            }
            // A server that ignores Range answers 200 with the whole object.
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = usize::try_from(offset.saturating_add(len))
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            Ok(bytes.slice(start..end))
        })
        .await;
        let bytes = result.map_err(|f| self.error(key, f))?;
        if bytes.len() as u64 > len {
            return Err(self.error(
                key,
                Failure::Other {
                    detail: format!(
                        "asked for {len} bytes at {offset}, got {} ({range})",
                        bytes.len()
                    ),
                    retryable: false,
                },
            ));
        }
        Ok(bytes)
    }

    /// HEAD `key`.
    pub(super) async fn head_object(&self, key: &str) -> Result<ObjectMeta> {
        let client = self.client().await;
        let (bucket, full) = (&self.config.bucket, self.config.full_key(key));
        let full = &full;
        let result = retry(self.policy(), || async move {
            client
                .head_object()
                .bucket(bucket)
                .key(full)
                .send()
                .await
                .map_err(failure)
        })
        .await;
        let output = result.map_err(|f| self.error(key, f))?;
        Ok(ObjectMeta {
            key: key.to_string(),
            size: size_of(output.content_length()),
            etag: etag_of(output.e_tag()),
            last_modified: system_time(output.last_modified()),
        })
    }

    /// Every object under `prefix`, keys relative to the store's prefix, sorted.
    pub(super) async fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let client = self.client().await;
        let bucket = &self.config.bucket;
        let root = self.config.full_key("");
        let full = self.config.full_key(prefix);
        let full = &full;
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let token_ref = token.as_deref();
            let result = retry(self.policy(), || async move {
                client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(full)
                    .set_continuation_token(token_ref.map(str::to_string))
                    .send()
                    .await
                    .map_err(failure)
            })
            .await;
            let page = result.map_err(|f| self.error(prefix, f))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(&root)) else {
                    continue;
                };
                objects.push(ObjectMeta {
                    key: key.to_string(),
                    size: size_of(object.size()),
                    etag: etag_of(object.e_tag()),
                    last_modified: system_time(object.last_modified()),
                });
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }
}
