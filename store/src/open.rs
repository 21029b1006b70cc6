//! Opening a store from its URL.

use std::sync::Arc;

use crate::{LocalStore, ObjectStore, Result, StoreError};

/// URL forms accepted by [`open_store`], for error messages.
const SUPPORTED: &str = "file:///absolute/path, a bare path (absolute or relative), \
     s3://bucket/prefix[?endpoint=URL&region=R]";

/// Opens the store at `url`: `file:///abs/path` or a bare path (the local-directory
/// store, created if missing; a relative path is resolved against the current
/// directory), or `s3://bucket[/prefix][?endpoint=URL&region=R&attempt_timeout=30s&retry_deadline=60s]`
/// (an `S3Store` configured the AWS way: credential chain, `AWS_REGION`,
/// `AWS_ENDPOINT_URL(_S3)`, plus `TUSK_S3_PATH_STYLE`; see `S3Config`; needs the
/// crate's `s3` feature). The S3 client is built at the store's first request. Unknown schemes are an `Invalid`
/// error that lists the supported ones.
pub fn open_store(url: &str) -> Result<Arc<dyn ObjectStore>> {
    open(url, true)
}

/// [`open_store`] for a store that must exist: a local directory that is missing
/// is a `NotFound` error, never created (an S3 bucket is never created anyway).
pub fn open_existing_store(url: &str) -> Result<Arc<dyn ObjectStore>> {
    open(url, false)
}

fn open(url: &str, create: bool) -> Result<Arc<dyn ObjectStore>> {
    let local = |path: &str| -> Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(if create {
            LocalStore::new(path)?
        } else {
            LocalStore::open_existing(path)?
        }))
    };
    let invalid = |detail: String| StoreError::Invalid {
        what: "store URL".to_string(),
        detail,
    };
    if url.trim().is_empty() {
        return Err(invalid(format!(
            "the URL is empty; use one of: {SUPPORTED}"
        )));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return local(url);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            // file:///abs/path has an empty host; file://localhost/abs/path is the same.
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(invalid(format!(
                    "{url:?}: a file URL needs an absolute path and no host (file:///srv/tusk)"
                )));
            }
            local(path)
        }
        #[cfg(feature = "s3")]
        "s3" => Ok(Arc::new(crate::S3Store::from_url(url)?)),
        #[cfg(not(feature = "s3"))]
        "s3" => Err(invalid(format!(
            "{url:?}: this build of tusk-store has no S3 backend; enable its `s3` feature"
        ))),
        other => Err(invalid(format!(
            "{url:?}: unknown scheme {other:?}; supported: {SUPPORTED}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_store_is_never_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nostore");
        for url in [
            missing.display().to_string(),
            format!("file://{}", missing.display()),
        ] {
            let Err(err) = open_existing_store(&url) else {
                panic!("{url}: a missing store was opened");
            };
            assert_eq!(err.kind(), crate::ErrorKind::NotFound, "{err}");
            assert!(err.to_string().contains("nostore"), "{err}");
            assert!(!missing.exists(), "{url} created");
        }
        std::fs::create_dir(&missing).expect("mkdir");
        assert!(open_existing_store(&missing.display().to_string()).is_ok());
    }

    #[test]
    fn file_url_bare_path_and_relative_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let abs = dir.path().join("a");
        let store = open_store(&format!("file://{}", abs.display())).expect("file url");
        assert_eq!(store.url(), format!("file://{}", abs.display()));
        assert!(abs.is_dir(), "store root created");

        let bare = dir.path().join("b");
        let store = open_store(&bare.display().to_string()).expect("bare path");
        assert_eq!(store.url(), format!("file://{}", bare.display()));

        // A relative path resolves against the current directory.
        let rel = format!("target-tusk-open-test-{}", std::process::id());
        let store = open_store(&rel).expect("relative path");
        let expected = std::env::current_dir().expect("cwd").join(&rel);
        assert_eq!(store.url(), format!("file://{}", expected.display()));
        std::fs::remove_dir(&expected).expect("clean up relative store dir");
    }

    #[test]
    fn s3_urls_open_an_s3_store() {
        let store = open_store("s3://my-bucket/some/prefix/?region=eu-west-1").expect("s3 url");
        assert_eq!(store.url(), "s3://my-bucket/some/prefix");
        let err = open_store("s3://Bad_Bucket/x").expect_err("bad bucket");
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
        assert!(err.to_string().contains("Bad_Bucket"), "{err}");
    }

    #[test]
    fn other_schemes_are_invalid() {
        let err = open_store("ftp://host/x").expect_err("ftp");
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
        assert!(
            err.to_string().contains("file:///"),
            "lists supported forms: {err}"
        );

        let err = open_store("file://otherhost/x").expect_err("host");
        assert!(err.to_string().contains("absolute path"), "{err}");
        assert_eq!(
            open_store("").expect_err("empty").kind(),
            crate::ErrorKind::Invalid
        );
    }
}
