//! What an S3 request failure means: a small [`Failure`] the operations act on
//! (retry, map to `None`, map to a conflict), and its mapping to [`StoreError`].
//!
//! The SDK's errors are first reduced to an [`Observed`] (status, error code, message,
//! transport cause) so the mapping is a pure function, tested without a server.

use std::error::Error as StdError;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use super::config::S3Config;
use super::credentials::{self, CredentialProblem};
use crate::StoreError;

/// What was seen of a failed request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// S3 error code (`NoSuchKey`, `PreconditionFailed`, ...).
    pub code: Option<String>,
    /// S3 error message.
    pub message: Option<String>,
    /// No usable answer: timeout, connection or protocol failure (one-line cause).
    pub transport: Option<String>,
    /// The request could not even be built or sent for a local reason.
    pub local: Option<String>,
    /// No credentials to sign the request with: why, and what the SDK said.
    pub credentials: Option<(CredentialProblem, String)>,
}

/// The meaning of a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 404 (NoSuchKey, or HEAD's bodiless 404).
    NotFound,
    /// The bucket does not exist.
    NoSuchBucket,
    /// 412: an `If-Match` / `If-None-Match: *` condition failed.
    PreconditionFailed,
    /// 304: `If-None-Match` matched on a read.
    NotModified,
    /// 416: the range starts at or after the end.
    InvalidRange,
    /// 501: the server does not implement a header we sent (conditional writes).
    NotImplemented(String),
    /// The server rejected the upload's checksum.
    BadChecksum(String),
    /// Permissions (valid credentials that may not do this).
    Denied(String),
    /// No usable credentials: none found, or S3 rejected them. Never retried.
    Credentials {
        /// What is wrong.
        problem: CredentialProblem,
        /// What the SDK or S3 said.
        detail: String,
    },
    /// Anything else; `retryable` when it may succeed later.
    Other {
        /// One-line description.
        detail: String,
        /// Timeouts, connection errors, 5xx, throttling.
        retryable: bool,
    },
}

impl Failure {
    /// Whether trying again may succeed.
    pub(crate) fn retryable(&self) -> bool {
        matches!(
            self,
            Failure::Other {
                retryable: true,
                ..
            }
        )
    }

    /// A retryable failure with `detail` (timeouts, body read errors).
    pub(crate) fn transient(detail: impl Into<String>) -> Failure {
        Failure::Other {
            detail: detail.into(),
            retryable: true,
        }
    }

    /// The store error for this failure on `key` (a store key, not yet prefixed).
    pub(crate) fn into_store_error(self, config: &S3Config, key: &str) -> StoreError {
        let key_url = config.key_url(key);
        let backend = |detail: String, retryable: bool| StoreError::Backend {
            backend: "s3",
            key: key_url.clone(),
            detail: one_line(&detail),
            retryable,
        };
        let denied = |detail: String| StoreError::Denied {
            backend: "s3",
            key: key_url.clone(),
            detail: one_line(&detail),
        };
        match self {
            Failure::NotFound => StoreError::NotFound { key: key_url },
            Failure::NoSuchBucket => denied(format!(
                "bucket {:?} does not exist at {}",
                config.bucket,
                config.endpoint_label()
            )),
            Failure::PreconditionFailed => StoreError::Conflict {
                key: key_url.clone(),
                detail: "the object changed (precondition failed); re-read and retry".to_string(),
            },
            Failure::NotModified => backend("unexpected 304 Not Modified".to_string(), false),
            Failure::InvalidRange => backend("unexpected 416 invalid range".to_string(), false),
            Failure::NotImplemented(d) => {
                backend(format!("not implemented by the server: {d}"), false)
            }
            Failure::BadChecksum(d) => StoreError::Checksum {
                key: key_url.clone(),
                detail: one_line(&format!("the server rejected the upload's CRC32: {d}")),
            },
            Failure::Denied(d) => denied(format!(
                "access to bucket {:?} at {} refused: {d}; check the credentials \
                 (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE) and the bucket policy",
                config.bucket,
                config.endpoint_label()
            )),
            Failure::Credentials { problem, detail } => denied(credentials::message(
                &problem,
                &detail,
                &config.bucket,
                &config.endpoint_label(),
            )),
            Failure::Other { detail, retryable } => backend(
                format!("{detail} (endpoint {})", config.endpoint_label()),
                retryable,
            ),
        }
    }
}

/// Error codes that mean "not allowed" (the ones that mean "these credentials are not
/// valid" are [`CredentialProblem::of_code`]'s).
const DENIED_CODES: &[&str] = &["AccessDenied", "AllAccessDisabled", "AccountProblem"];

/// Error codes that can succeed later whatever their status.
const RETRYABLE_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "ConditionalRequestConflict",
    "OperationAborted",
];

/// Error codes that mean the uploaded bytes did not match the checksum sent.
const CHECKSUM_CODES: &[&str] = &["BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"];

/// The meaning of what was observed. Pure, so it is unit-tested.
pub(crate) fn classify(o: &Observed) -> Failure {
    if let Some((problem, detail)) = &o.credentials {
        return Failure::Credentials {
            problem: problem.clone(),
            detail: detail.clone(),
        };
    }
    if let Some(local) = &o.local {
        return Failure::Other {
            detail: local.clone(),
            retryable: false,
        };
    }
    if let Some(cause) = &o.transport {
        return Failure::transient(cause.clone());
    }
    let code = o.code.as_deref().unwrap_or("");
    let status = o.status.unwrap_or(0);
    let described = || {
        let mut d = format!("HTTP {status}");
        if !code.is_empty() {
            d.push_str(&format!(" {code}"));
        }
        if let Some(m) = o.message.as_deref().filter(|m| !m.is_empty()) {
            d.push_str(&format!(": {m}"));
        }
        d
    };
    if code == "NoSuchBucket" {
        return Failure::NoSuchBucket;
    }
    if let Some(problem) = CredentialProblem::of_code(code) {
        let message = o.message.as_deref().unwrap_or("");
        return Failure::Credentials {
            problem,
            detail: one_line(&format!("HTTP {status} {message}")),
        };
    }
    if DENIED_CODES.contains(&code) || (code.is_empty() && status == 403) {
        return Failure::Denied(described());
    }
    if CHECKSUM_CODES.contains(&code) {
        return Failure::BadChecksum(described());
    }
    match status {
        304 => return Failure::NotModified,
        404 => return Failure::NotFound,
        412 => return Failure::PreconditionFailed,
        416 => return Failure::InvalidRange,
        501 => return Failure::NotImplemented(described()),
        _ => {}
    }
    let retryable = RETRYABLE_CODES.contains(&code) || status == 429 || status >= 500;
    Failure::Other {
        detail: described(),
        retryable,
    }
}

/// Reduces an SDK error to what was observed.
pub(crate) fn observe<E>(err: &SdkError<E, HttpResponse>) -> Observed
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    if let Some(cause) = credentials_error(err) {
        return Observed {
            credentials: Some((CredentialProblem::of(cause), chain(cause))),
            ..Observed::default()
        };
    }
    match err {
        SdkError::ServiceError(ctx) => Observed {
            status: Some(ctx.raw().status().as_u16()),
            code: ctx.err().code().map(str::to_string),
            message: ctx.err().message().map(str::to_string),
            ..Observed::default()
        },
        SdkError::TimeoutError(_) => Observed {
            transport: Some(format!("request timed out: {}", chain(err))),
            ..Observed::default()
        },
        SdkError::DispatchFailure(d) if d.is_user() => Observed {
            local: Some(format!("request could not be sent: {}", chain(err))),
            ..Observed::default()
        },
        SdkError::DispatchFailure(_) => Observed {
            transport: Some(format!("connection failed: {}", chain(err))),
            ..Observed::default()
        },
        SdkError::ResponseError(_) => Observed {
            transport: Some(format!("bad or interrupted answer: {}", chain(err))),
            ..Observed::default()
        },
        SdkError::ConstructionFailure(_) => Observed {
            local: Some(format!("request could not be built: {}", chain(err))),
            ..Observed::default()
        },
        _ => Observed {
            transport: Some(chain(err)),
            ..Observed::default()
        },
    }
}

/// The credential provider's error behind `err`, if that is why the request was not
/// sent (the SDK reports it as a dispatch failure).
fn credentials_error<'a>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a aws_credential_types::provider::error::CredentialsError> {
    let mut next: Option<&'a (dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// Classifies an SDK error.
pub(crate) fn failure<E>(err: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    classify(&observe(&err))
}

/// An error and its sources on one line, without repeats.
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    one_line(&parts.join(": "))
}

/// Collapses whitespace runs (newlines included) so messages stay on one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str) -> Observed {
        Observed {
            status: Some(status),
            code: (!code.is_empty()).then(|| code.to_string()),
            message: Some("details\nfrom the server".to_string()),
            ..Observed::default()
        }
    }

    fn config() -> S3Config {
        S3Config::from_url_with_env("s3://bkt/pre?endpoint=http://127.0.0.1:9", |_| None)
            .expect("config")
    }

    #[test]
    fn statuses_and_codes_map_to_failures() {
        assert_eq!(classify(&service(404, "NoSuchKey")), Failure::NotFound);
        assert_eq!(classify(&service(404, "")), Failure::NotFound);
        assert_eq!(
            classify(&service(404, "NoSuchBucket")),
            Failure::NoSuchBucket
        );
        assert_eq!(
            classify(&service(412, "PreconditionFailed")),
            Failure::PreconditionFailed
        );
        assert_eq!(classify(&service(304, "")), Failure::NotModified);
        assert_eq!(
            classify(&service(416, "InvalidRange")),
            Failure::InvalidRange
        );
        assert!(matches!(
            classify(&service(501, "NotImplemented")),
            Failure::NotImplemented(_)
        ));
        assert!(matches!(
            classify(&service(400, "BadDigest")),
            Failure::BadChecksum(_)
        ));
        for code in ["AccessDenied", "AllAccessDisabled"] {
            let f = classify(&service(403, code));
            assert!(matches!(f, Failure::Denied(_)), "{code}: {f:?}");
            assert!(!f.retryable(), "{code}");
        }
        assert!(matches!(classify(&service(403, "")), Failure::Denied(_)));
        for code in [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
        ] {
            let f = classify(&service(403, code));
            match &f {
                Failure::Credentials { problem, detail } => {
                    assert_eq!(problem, &CredentialProblem::Rejected(code.to_string()));
                    assert_eq!(detail, "HTTP 403 details from the server");
                }
                other => panic!("{code}: {other:?}"),
            }
            assert!(!f.retryable(), "{code}");
        }
    }

    #[test]
    fn only_what_can_succeed_later_is_retryable() {
        for (status, code) in [
            (500, "InternalError"),
            (503, "SlowDown"),
            (503, ""),
            (502, ""),
            (429, ""),
            (400, "RequestTimeout"),
            (409, "ConditionalRequestConflict"),
        ] {
            assert!(
                classify(&service(status, code)).retryable(),
                "{status} {code}"
            );
        }
        for (status, code) in [
            (400, "InvalidArgument"),
            (404, "NoSuchKey"),
            (412, "PreconditionFailed"),
            (403, "AccessDenied"),
            (409, "BucketAlreadyExists"),
        ] {
            assert!(
                !classify(&service(status, code)).retryable(),
                "{status} {code}"
            );
        }
        let timeout = Observed {
            transport: Some("timed out".to_string()),
            ..Observed::default()
        };
        assert!(classify(&timeout).retryable());
        let local = Observed {
            local: Some("bad header value".to_string()),
            ..Observed::default()
        };
        assert!(!classify(&local).retryable());
    }

    #[test]
    fn store_errors_name_the_object_and_stay_on_one_line() {
        let c = config();
        let err = Failure::NotFound.into_store_error(&c, "d/CURRENT");
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
        assert!(err.to_string().contains("s3://bkt/pre/d/CURRENT"), "{err}");

        let err = Failure::NoSuchBucket.into_store_error(&c, "k");
        assert_eq!(err.kind(), crate::ErrorKind::Permission);
        let text = err.to_string();
        assert!(text.contains("bucket \"bkt\" does not exist"), "{text}");
        assert!(
            text.contains("http://127.0.0.1:9"),
            "names the endpoint: {text}"
        );

        let err = classify(&service(403, "InvalidAccessKeyId")).into_store_error(&c, "k");
        let text = err.to_string();
        assert_eq!(err.kind(), crate::ErrorKind::Permission, "{err:?}");
        assert!(
            text.contains(
                "S3 rejected the credentials for bucket \"bkt\" at http://127.0.0.1:9 (InvalidAccessKeyId)"
            ),
            "{text}"
        );
        assert!(text.contains("not retried"), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");

        let missing = Observed {
            credentials: Some((
                CredentialProblem::Missing,
                "no providers in chain provided credentials".to_string(),
            )),
            // A credential failure wins over the transport view of the same error.
            transport: Some("dispatch failure".to_string()),
            ..Observed::default()
        };
        let failure = classify(&missing);
        assert!(!failure.retryable(), "{failure:?}");
        let err = failure.into_store_error(&c, "d/versions/");
        assert_eq!(err.kind(), crate::ErrorKind::Permission, "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("s3 error on s3://bkt/pre/d/versions/: no AWS credentials for bucket"),
            "{text}"
        );
        assert!(
            text.contains("AWS_ACCESS_KEY_ID") && text.contains("not retried"),
            "{text}"
        );

        let err = classify(&service(503, "SlowDown")).into_store_error(&c, "k");
        assert_eq!(err.kind(), crate::ErrorKind::Retryable);
        assert!(
            err.to_string()
                .starts_with("s3 error on s3://bkt/pre/k: HTTP 503 SlowDown")
        );

        let err = Failure::PreconditionFailed.into_store_error(&c, "k");
        assert_eq!(err.kind(), crate::ErrorKind::Conflict);
        let err = Failure::BadChecksum("x".to_string()).into_store_error(&c, "k");
        assert_eq!(err.kind(), crate::ErrorKind::Corrupt);
    }

    /// The SDK reports a credential provider's failure as a dispatch failure; it is
    /// found behind it, and not taken for a (retryable) connection failure.
    #[test]
    fn a_credential_provider_error_behind_a_dispatch_failure_is_found() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_sdk_s3::error::ConnectorError;
        use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;

        let cause = CredentialsError::invalid_configuration("profile `ops` was not defined");
        let err: SdkError<ListObjectsV2Error, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(cause), None));
        let observed = observe(&err);
        let (problem, detail) = observed.credentials.clone().expect("found");
        assert_eq!(problem, CredentialProblem::Misconfigured);
        assert!(detail.contains("profile `ops` was not defined"), "{detail}");
        assert!(!classify(&observed).retryable());

        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err: SdkError<ListObjectsV2Error, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        let observed = observe(&err);
        assert_eq!(observed.credentials, None);
        assert!(classify(&observed).retryable(), "{observed:?}");
    }

    #[test]
    fn error_chains_are_joined_on_one_line() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused\nnow");
        let outer = std::io::Error::other(inner);
        assert_eq!(chain(&outer), "refused now");
        assert_eq!(one_line(" a \n b\tc "), "a b c");
    }
}
