//! Credentials: what went wrong getting them or using them, and what the operator
//! should do about it (a pure mapping, unit-tested), plus the time limit put on the
//! AWS credential chain so that a machine without credentials fails in seconds.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};

/// Longest time the whole credential chain (environment, profile and SSO, web
/// identity, ECS, IMDS) may take before the request fails.
pub(crate) const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(5);
/// Connect and read timeout of the one attempt made at the EC2 instance metadata
/// service (the SDK's default is 4 attempts).
pub(crate) const IMDS_TIMEOUT: Duration = Duration::from_secs(1);

/// What is wrong with the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialProblem {
    /// No source in the chain had credentials.
    Missing,
    /// The chain did not answer within [`CREDENTIALS_TIMEOUT`].
    TimedOut,
    /// A source is configured but its configuration is wrong (a profile that does not
    /// exist, a broken SSO or role section).
    Misconfigured,
    /// A configured source failed (an expired SSO session, STS or IMDS refusing).
    ProviderFailed,
    /// S3 refused the credentials that were sent; the S3 error code.
    Rejected(String),
}

/// S3 error codes that mean "these credentials are not valid" (as opposed to
/// `AccessDenied`: valid credentials without the permission).
const REJECTED_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
];

/// The sources the AWS credential chain tries, in order.
pub(crate) const CHAIN: &str = "environment variables (AWS_ACCESS_KEY_ID), the shared \
    config and credentials files (AWS_PROFILE, SSO and credential_process profiles \
    included), a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE), ECS container \
    credentials, EC2 instance metadata (IMDS)";

/// What an operator can set.
const WHAT_TO_SET: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE \
    to a profile of ~/.aws/config (for an SSO profile run `aws sso login --profile NAME` \
    first)";

impl CredentialProblem {
    /// The problem a credential provider reported.
    pub(crate) fn of(err: &CredentialsError) -> CredentialProblem {
        match err {
            CredentialsError::CredentialsNotLoaded(_) => CredentialProblem::Missing,
            CredentialsError::ProviderTimedOut(_) => CredentialProblem::TimedOut,
            CredentialsError::InvalidConfiguration(_) => CredentialProblem::Misconfigured,
            _ => CredentialProblem::ProviderFailed,
        }
    }

    /// The problem an S3 error code means, if it is about the credentials.
    pub(crate) fn of_code(code: &str) -> Option<CredentialProblem> {
        REJECTED_CODES
            .contains(&code)
            .then(|| CredentialProblem::Rejected(code.to_string()))
    }
}

/// What to tell the operator about `problem`, for a request to `bucket` at `endpoint`;
/// `detail` is what the SDK or S3 said. Every credential failure is final for the
/// operation (no retry), and the message says so.
pub(crate) fn message(
    problem: &CredentialProblem,
    detail: &str,
    bucket: &str,
    endpoint: &str,
) -> String {
    let said = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    let target = format!("bucket {bucket:?} at {endpoint}");
    match problem {
        CredentialProblem::Missing => format!(
            "no AWS credentials for {target}: none found in {CHAIN}; {WHAT_TO_SET}; not retried"
        ),
        CredentialProblem::TimedOut => format!(
            "no AWS credentials for {target}: the credential chain ({CHAIN}) did not answer \
             within {CREDENTIALS_TIMEOUT:?}{said}; check that the configured source is \
             reachable, or {WHAT_TO_SET}; not retried"
        ),
        CredentialProblem::Misconfigured => format!(
            "no AWS credentials for {target}: the AWS configuration is invalid{said}; check \
             AWS_PROFILE and its section in AWS_CONFIG_FILE (~/.aws/config), or {WHAT_TO_SET}; \
             not retried"
        ),
        CredentialProblem::ProviderFailed => format!(
            "no AWS credentials for {target}: loading them failed{said}; if the profile uses \
             SSO and its session expired, run `aws sso login`; otherwise {WHAT_TO_SET}; not retried"
        ),
        CredentialProblem::Rejected(code) => format!(
            "S3 rejected the credentials for {target} ({code}){said}; not retried: check \
             AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or AWS_PROFILE \
             (after an SSO session expired: `aws sso login`)"
        ),
    }
}

/// A credential provider whose every load fails after `limit` with
/// [`CredentialsError::ProviderTimedOut`] (the SDK's own cache timeout gives an error
/// that cannot be told apart from others).
#[derive(Debug)]
pub(crate) struct TimeLimited<P> {
    inner: P,
    limit: Duration,
}

impl<P> TimeLimited<P> {
    /// `inner`, cut off after `limit`.
    pub(crate) fn new(inner: P, limit: Duration) -> TimeLimited<P> {
        TimeLimited { inner, limit }
    }
}

impl<P: ProvideCredentials> ProvideCredentials for TimeLimited<P> {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            match tokio::time::timeout(self.limit, self.inner.provide_credentials()).await {
                Ok(result) => result,
                Err(_) => Err(CredentialsError::provider_timed_out(self.limit)),
            }
        })
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.inner.fallback_on_interrupt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_map_to_problems() {
        for (err, want) in [
            (
                CredentialsError::not_loaded("no providers in chain provided credentials"),
                CredentialProblem::Missing,
            ),
            (
                CredentialsError::provider_timed_out(Duration::from_secs(5)),
                CredentialProblem::TimedOut,
            ),
            (
                CredentialsError::invalid_configuration("profile `x` not found"),
                CredentialProblem::Misconfigured,
            ),
            (
                CredentialsError::provider_error("the SSO session has expired"),
                CredentialProblem::ProviderFailed,
            ),
            (
                CredentialsError::unhandled("bad JSON from IMDS"),
                CredentialProblem::ProviderFailed,
            ),
        ] {
            assert_eq!(CredentialProblem::of(&err), want, "{err:?}");
        }
    }

    #[test]
    fn only_codes_about_the_credentials_are_rejections() {
        for code in REJECTED_CODES {
            assert_eq!(
                CredentialProblem::of_code(code),
                Some(CredentialProblem::Rejected(code.to_string()))
            );
        }
        for code in ["AccessDenied", "NoSuchBucket", "SlowDown", ""] {
            assert_eq!(CredentialProblem::of_code(code), None, "{code}");
        }
    }

    #[test]
    fn messages_name_the_chain_what_to_set_and_that_nothing_is_retried() {
        let missing = message(
            &CredentialProblem::Missing,
            "ignored detail",
            "bkt",
            "AWS S3 (us-east-1)",
        );
        for part in [
            "no AWS credentials for bucket \"bkt\" at AWS S3 (us-east-1)",
            "environment variables",
            "AWS_PROFILE",
            "web identity",
            "ECS",
            "IMDS",
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            "aws sso login",
            "not retried",
        ] {
            assert!(missing.contains(part), "{part:?} in {missing}");
        }
        assert!(!missing.contains("ignored detail"), "{missing}");

        let timed_out = message(&CredentialProblem::TimedOut, "", "bkt", "e");
        assert!(timed_out.contains("within 5s"), "{timed_out}");
        assert!(timed_out.contains("IMDS"), "{timed_out}");

        let broken = message(
            &CredentialProblem::Misconfigured,
            "profile `ops` not found",
            "bkt",
            "e",
        );
        assert!(broken.contains(": profile `ops` not found;"), "{broken}");
        assert!(broken.contains("AWS_CONFIG_FILE"), "{broken}");

        let sso = message(
            &CredentialProblem::ProviderFailed,
            "the SSO session has expired",
            "bkt",
            "e",
        );
        assert!(sso.contains("the SSO session has expired"), "{sso}");
        assert!(sso.contains("`aws sso login`"), "{sso}");

        for code in [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
        ] {
            let text = message(
                &CredentialProblem::Rejected(code.to_string()),
                "HTTP 403: denied",
                "bkt",
                "http://127.0.0.1:9",
            );
            assert!(
                text.starts_with(&format!(
                    "S3 rejected the credentials for bucket \"bkt\" at http://127.0.0.1:9 ({code})"
                )),
                "{text}"
            );
            assert!(text.contains("not retried"), "{text}");
            assert!(text.contains("AWS_SECRET_ACCESS_KEY"), "{text}");
        }
    }

    struct Never;

    impl std::fmt::Debug for Never {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Never")
        }
    }

    impl ProvideCredentials for Never {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::new(std::future::pending())
        }
    }

    #[tokio::test]
    async fn a_chain_that_never_answers_times_out_as_such() {
        let limited = TimeLimited::new(Never, Duration::from_millis(50));
        let err = limited
            .provide_credentials()
            .await
            .expect_err("never answers");
        assert_eq!(CredentialProblem::of(&err), CredentialProblem::TimedOut);
    }
}
