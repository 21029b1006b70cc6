//! The S3 store: any S3-protocol server (AWS S3, MinIO, Ceph, moto...).
//!
//! ```text
//! s3://bucket[/prefix][?endpoint=URL&region=R&attempt_timeout=30s&retry_deadline=60s]
//! ```
//! Store key `k` is the S3 key `prefix/k`. Configuration is the AWS one, resolved by
//! aws-config at the first request (see `client.rs`): the standard credential chain
//! (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE` with SSO profiles, web
//! identity, ECS, IMDS), region from the URL, else `AWS_REGION`/profile, else
//! `us-east-1` (never from IMDS), endpoint from the URL, else `AWS_ENDPOINT_URL_S3` /
//! `AWS_ENDPOINT_URL` / the profile (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`).
//! Path-style addressing is used with every endpoint but AWS's own;
//! `TUSK_S3_PATH_STYLE=true|false` forces it either way. Missing or rejected
//! credentials fail at once, never retried. See [`S3Config`].
//!
//! Semantics (the conformance suite checks them):
//! - `put`: `Create` sends `If-None-Match: *` (412 -> `AlreadyExists`); `UpdateIf(etag)`
//!   sends `If-Match` (412, or 404 for a missing object -> `Conflict`). Every upload
//!   carries `x-amz-checksum-crc32` so the server verifies what it stores.
//! - `put_file`: files under 16 MiB are one PUT (their CRC32 checked locally first);
//!   larger ones are multipart uploads of 8 MiB parts (more for files over 80 GB), at
//!   most 8 in flight, each part streamed from the file with its own CRC32; the parts'
//!   CRCs combined must equal the file's CRC32 before the upload is completed, and a
//!   failed upload is aborted.
//! - `get_if_changed` sends `If-None-Match` (304 -> `None`); `get_range` at or past the
//!   end is empty (416); `list` pages through ListObjectsV2, keys relative to the prefix.
//! - Time limits: 10 s to connect, 30 s per attempt (request, answer and body), and
//!   retries with exponential backoff and jitter of what can succeed later (timeouts,
//!   connection errors, 5xx, 429/SlowDown) for at most 60 s per operation; never of
//!   4xx answers. All settable (URL query or [`S3Config`]).
//! - If a write that lost its answer is retried and then finds the precondition
//!   failed, the object is read back: if it holds exactly our bytes, our first attempt
//!   won and the write succeeds.
//! - Servers without conditional writes (501 NotImplemented on `If-None-Match` /
//!   `If-Match`): the store logs a warning once and falls back to check-then-put (HEAD,
//!   then PUT). That mode has a race window: two concurrent writers may both "win".
//!   Conflicts reported in that mode say so.

mod client;
mod config;
mod credentials;
mod errors;
mod read;
mod retry;
mod upload;
mod write;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

pub use config::S3Config;

use crate::{GetResult, ObjectMeta, ObjectStore, PutMode, Result, StoreError, keys};
use errors::Failure;
use retry::RetryPolicy;

/// A store in an S3 bucket (under an optional key prefix). Cheap to create: the AWS
/// configuration is loaded and the client built at the first request.
pub struct S3Store {
    config: Arc<S3Config>,
    client: tokio::sync::OnceCell<client::Built>,
    /// Set once the server answered 501 to a conditional write.
    no_conditional_writes: AtomicBool,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("config", &self.config)
            .field(
                "no_conditional_writes",
                &self.no_conditional_writes.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl S3Store {
    /// A store with explicit settings (tests give the endpoint and credentials here,
    /// so they never touch the process environment).
    pub fn new(config: S3Config) -> S3Store {
        S3Store {
            config: Arc::new(config),
            client: tokio::sync::OnceCell::new(),
            no_conditional_writes: AtomicBool::new(false),
        }
    }

    /// Opens `s3://bucket/prefix?...` with settings from the URL and the process
    /// environment (see [`S3Config::from_url`]).
    pub fn from_url(url: &str) -> Result<S3Store> {
        Ok(S3Store::new(S3Config::from_url(url)?))
    }

    /// The settings.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The client, built on first use.
    async fn client(&self) -> &aws_sdk_s3::Client {
        &self
            .client
            .get_or_init(|| client::build(&self.config))
            .await
            .client
    }

    /// The settings as resolved when the client was built (endpoint and region from
    /// the AWS configuration), else as given.
    fn resolved(&self) -> &S3Config {
        self.client
            .get()
            .map_or(&self.config, |built| &built.config)
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempt_timeout: self.config.attempt_timeout,
            deadline: self.config.retry_deadline,
        }
    }

    fn error(&self, key: &str, failure: Failure) -> StoreError {
        failure.into_store_error(self.resolved(), key)
    }
}

/// An ETag without its surrounding quotes (S3 sends `"abc"`; we store `abc`).
fn etag_of(raw: Option<&str>) -> String {
    raw.unwrap_or_default().trim_matches('"').to_string()
}

/// An ETag as a header value (`"abc"`).
fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

/// A CRC32 as S3 wants it in `x-amz-checksum-crc32`: base64 of its 4 big-endian bytes.
fn crc32_header(crc: u32) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

#[async_trait]
impl ObjectStore for S3Store {
    fn url(&self) -> String {
        self.config.url()
    }

    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        keys::validate_key(key, false)?;
        self.put_bytes(key, data, mode).await
    }

    async fn put_file(&self, key: &str, path: &Path, crc32: u32) -> Result<ObjectMeta> {
        keys::validate_key(key, false)?;
        self.upload_file(key, path, crc32).await
    }

    async fn get(&self, key: &str) -> Result<GetResult> {
        keys::validate_key(key, false)?;
        let got = self.get_object(key, None).await?;
        got.ok_or_else(|| self.error(key, Failure::NotModified))
    }

    async fn get_if_changed(&self, key: &str, etag: Option<&str>) -> Result<Option<GetResult>> {
        keys::validate_key(key, false)?;
        self.get_object(key, etag).await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        keys::validate_key(key, false)?;
        self.read_range(key, offset, len).await
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        keys::validate_key(key, false)?;
        self.head_object(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        keys::validate_key(prefix, true)?;
        self.list_objects(prefix).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        keys::validate_key(key, false)?;
        self.delete_object(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated_like_the_local_store() {
        for good in ["a", "a/b", "d/versions/v1/MANIFEST.json"] {
            keys::validate_key(good, false).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        for bad in ["", "/a", "a//b", "a/", "..", "a/.x", "a\\b"] {
            assert_eq!(
                keys::validate_key(bad, false).expect_err(bad).kind(),
                crate::ErrorKind::Invalid
            );
        }
        for good in ["", "a/", "a/par"] {
            keys::validate_key(good, true).unwrap_or_else(|e| panic!("prefix {good:?}: {e}"));
        }
    }

    #[test]
    fn etags_and_checksum_headers() {
        assert_eq!(etag_of(Some("\"abc-3\"")), "abc-3");
        assert_eq!(etag_of(Some("abc")), "abc");
        assert_eq!(etag_of(None), "");
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("\"abc\""), "\"abc\"");
        // CRC32("123456789") = 0xCBF43926, big-endian bytes, base64.
        assert_eq!(crc32_header(crc32fast::hash(b"123456789")), "y/Q5Jg==");
    }

    #[tokio::test]
    async fn unreachable_endpoint_fails_within_the_deadline_naming_bucket_and_endpoint() {
        // Port 9 on loopback ("discard") is not listening on a test machine: refused.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let url = format!(
            "s3://bkt/p?endpoint=http://127.0.0.1:{port}&retry_deadline=1s&region=us-east-1"
        );
        let mut config = S3Config::from_url_with_env(&url, |_| None).expect("config");
        config.static_credentials = Some(("id".to_string(), "secret".to_string()));
        let store = S3Store::new(config);
        let err = store.get("d/CURRENT").await.expect_err("nothing listens");
        let text = err.to_string();
        assert_eq!(err.kind(), crate::ErrorKind::Retryable, "{text}");
        assert!(text.contains("s3://bkt/p/d/CURRENT"), "{text}");
        assert!(text.contains(&format!("http://127.0.0.1:{port}")), "{text}");
        assert!(text.contains("gave up after"), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }
}
