//! `s3://` URLs and the settings of an S3 store, resolved from the URL and an
//! environment given as a closure (so tests never touch the process environment).
//!
//! Only what is tusk's own is read here (the URL and `TUSK_S3_PATH_STYLE`); the AWS
//! settings (endpoint, region, credentials) are the AWS SDK's to resolve, when the
//! client is built (`client.rs`).

use std::time::Duration;

use crate::{Result, StoreError};

/// Default region when neither the URL nor the AWS configuration names one.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default connect timeout of one connection attempt.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time limit of one request attempt (sending, answer and body).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default total time an operation may spend retrying.
pub const DEFAULT_RETRY_DEADLINE: Duration = Duration::from_secs(60);

/// Query parameters an `s3://` URL may carry.
const QUERY_KEYS: &str = "endpoint, region, attempt_timeout, retry_deadline";

/// Everything an S3 store needs to know. Build it with [`S3Config::from_url`] (or
/// [`S3Config::from_url_with_env`] in tests) and adjust the public fields.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// Endpoint URL set explicitly (`http://127.0.0.1:9000`); it wins over any AWS
    /// setting. `None` = the endpoint the AWS configuration names (`AWS_ENDPOINT_URL_S3`,
    /// `AWS_ENDPOINT_URL`, a profile's `endpoint_url` or `services` section; none when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the AWS endpoint of the region.
    pub endpoint: Option<String>,
    /// Region; `None` = `AWS_REGION` / `AWS_DEFAULT_REGION`, else the profile's, else
    /// `us-east-1` (the instance metadata service is not asked).
    pub region: Option<String>,
    /// Path-style addressing (`http://host/bucket/key`) instead of virtual hosts:
    /// `Some` = forced (`TUSK_S3_PATH_STYLE`); `None` = decided from the endpoint in use
    /// once it is resolved: on for every endpoint but AWS's own (`*.amazonaws.com`).
    pub path_style: Option<bool>,
    /// Static access key id and secret; `None` = the standard AWS credential chain.
    pub static_credentials: Option<(String, String)>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Time limit of one attempt of one request, body included.
    pub attempt_timeout: Duration,
    /// Total time one operation may take over all its retries.
    pub retry_deadline: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field(
                "static_credentials",
                &self.static_credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("retry_deadline", &self.retry_deadline)
            .finish()
    }
}

fn invalid(url: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid {
        what: "store URL".to_string(),
        detail: format!("{url:?}: {detail}"),
    }
}

impl S3Config {
    /// Parses `s3://bucket[/prefix][?endpoint=URL&region=R&attempt_timeout=30s&retry_deadline=60s]`,
    /// reading `TUSK_S3_PATH_STYLE` from the process environment.
    pub fn from_url(url: &str) -> Result<S3Config> {
        S3Config::from_url_with_env(url, |name| std::env::var(name).ok())
    }

    /// [`S3Config::from_url`] with the environment given by `env` (name -> value).
    ///
    /// - endpoint: the `endpoint` query parameter, else the AWS configuration at first
    ///   use (see [`S3Config::endpoint`]).
    /// - path-style addressing: `TUSK_S3_PATH_STYLE=true|false` when set, else decided
    ///   from the endpoint at first use (see [`S3Config::path_style`]).
    /// - region: the `region` query parameter, else the AWS configuration at first use.
    pub fn from_url_with_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<S3Config> {
        let rest = url
            .strip_prefix("s3://")
            .or_else(|| url.strip_prefix("S3://"))
            .ok_or_else(|| invalid(url, "an S3 store URL starts with s3://"))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        validate_bucket(bucket).map_err(|why| invalid(url, why))?;
        let prefix = prefix.trim_matches('/').to_string();
        if prefix
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
            && !prefix.is_empty()
        {
            return Err(invalid(
                url,
                "the prefix has an empty, '.' or '..' path segment",
            ));
        }

        let mut config = S3Config {
            bucket: bucket.to_string(),
            prefix,
            endpoint: None,
            region: None,
            path_style: None,
            static_credentials: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            retry_deadline: DEFAULT_RETRY_DEADLINE,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).map_err(|why| invalid(url, why))?;
            let duration = |v: &str| {
                humantime::parse_duration(v)
                    .map_err(|e| invalid(url, format!("{name}={v:?}: {e} (e.g. 30s)")))
            };
            match name {
                "endpoint" => config.endpoint = Some(value),
                "region" if !value.is_empty() => config.region = Some(value),
                "attempt_timeout" => config.attempt_timeout = duration(&value)?,
                "retry_deadline" => config.retry_deadline = duration(&value)?,
                other => {
                    return Err(invalid(
                        url,
                        format!("unknown query parameter {other:?}; supported: {QUERY_KEYS}"),
                    ));
                }
            }
        }
        if let Some(endpoint) = &config.endpoint {
            validate_endpoint(endpoint).map_err(|why| invalid(url, why))?;
        }
        config.path_style = forced_path_style(env("TUSK_S3_PATH_STYLE").as_deref())
            .map_err(|why| invalid(url, why))?;
        Ok(config)
    }

    /// The store's URL for messages: `s3://bucket/prefix` (no query).
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The S3 key of the store key `key`.
    pub(crate) fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// `s3://bucket/<full key>`, for error messages.
    pub(crate) fn key_url(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.full_key(key))
    }

    /// Where requests go, for error messages.
    pub(crate) fn endpoint_label(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!(
                "AWS S3 ({})",
                self.region.as_deref().unwrap_or("default region")
            ),
        }
    }
}

/// The value of `TUSK_S3_PATH_STYLE`: `Some(true|false)` when set, `None` when unset
/// or empty.
pub fn forced_path_style(env_value: Option<&str>) -> Result<Option<bool>, String> {
    let Some(v) = env_value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(Some(true)),
        "false" | "0" | "no" => Ok(Some(false)),
        _ => Err(format!("TUSK_S3_PATH_STYLE={v:?}: use true or false")),
    }
}

/// Whether to use path-style addressing with `endpoint` (the one in use, however it was
/// configured): `forced` (`TUSK_S3_PATH_STYLE`) decides when set; otherwise on for
/// every endpoint but AWS's own (`*.amazonaws.com`, `*.amazonaws.com.cn`). S3-protocol
/// servers (MinIO, Ceph, moto...) serve path style out of the box, and virtual-host
/// names like `bucket.127.0.0.1` cannot resolve; AWS itself prefers virtual hosts.
pub fn path_style(endpoint: Option<&str>, forced: Option<bool>) -> bool {
    if let Some(forced) = forced {
        return forced;
    }
    let Some(endpoint) = endpoint else {
        return false;
    };
    let host = endpoint_host(endpoint).to_ascii_lowercase();
    let aws = ["amazonaws.com", "amazonaws.com.cn"]
        .iter()
        .any(|domain| host == *domain || host.ends_with(&format!(".{domain}")));
    !aws
}

/// The host of `scheme://host[:port][/path]`, without the port.
fn endpoint_host(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.starts_with('[') {
        // [v6]:port
        return authority
            .split_once(']')
            .map_or(authority, |(h, _)| &authority[..h.len() + 1]);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn validate_endpoint(endpoint: &str) -> Result<(), String> {
    let ok_scheme = endpoint.starts_with("http://") || endpoint.starts_with("https://");
    if !ok_scheme || endpoint_host(endpoint).is_empty() {
        return Err(format!(
            "endpoint {endpoint:?} must be an http:// or https:// URL with a host"
        ));
    }
    Ok(())
}

/// S3 bucket naming rules (3-63 of `a-z 0-9 . -`, starting and ending alphanumeric).
fn validate_bucket(bucket: &str) -> Result<(), String> {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if bucket.is_empty() {
        return Err("the bucket name is missing (s3://bucket/prefix)".to_string());
    }
    if !(3..=63).contains(&bucket.len())
        || !ok_chars
        || !ends_ok(bucket.bytes().next())
        || !ends_ok(bucket.bytes().last())
    {
        return Err(format!(
            "bucket {bucket:?} is not a valid S3 bucket name (3-63 characters of a-z, 0-9, '.', '-')"
        ));
    }
    Ok(())
}

/// Decodes `%XX` escapes of a query value.
fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in {value:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{value:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn bucket_prefix_and_query() {
        let c = S3Config::from_url_with_env("s3://my-bucket/a/b/", no_env).expect("parse");
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("my-bucket", "a/b"));
        assert_eq!(c.url(), "s3://my-bucket/a/b");
        assert_eq!(c.full_key("d/CURRENT"), "a/b/d/CURRENT");
        assert_eq!(c.key_url("x"), "s3://my-bucket/a/b/x");
        assert_eq!(c.endpoint, None);
        assert_eq!(c.region, None);
        assert_eq!(c.path_style, None);
        assert_eq!(c.retry_deadline, DEFAULT_RETRY_DEADLINE);

        let c = S3Config::from_url_with_env("s3://bkt", no_env).expect("no prefix");
        assert_eq!((c.prefix.as_str(), c.url()), ("", "s3://bkt".to_string()));
        assert_eq!(c.full_key("k"), "k");

        let c = S3Config::from_url_with_env(
            "s3://bkt/p?endpoint=http%3A%2F%2F127.0.0.1:9000&region=eu-west-1&retry_deadline=5s&attempt_timeout=2s",
            no_env,
        )
        .expect("query");
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.retry_deadline, Duration::from_secs(5));
        assert_eq!(c.attempt_timeout, Duration::from_secs(2));
        assert_eq!(c.path_style, None, "decided at first use");
        assert_eq!(c.url(), "s3://bkt/p", "the query is not part of the URL");
    }

    #[test]
    fn bad_urls_are_invalid_and_say_why() {
        for (url, why) in [
            ("s3://", "bucket name is missing"),
            ("s3:///p", "bucket name is missing"),
            ("s3://Upper/p", "not a valid S3 bucket name"),
            ("s3://ab", "not a valid S3 bucket name"),
            ("s3://b_x/p", "not a valid S3 bucket name"),
            ("s3://bkt/a//b", "empty, '.' or '..'"),
            ("s3://bkt/a/../b", "empty, '.' or '..'"),
            ("s3://bkt?colour=red", "unknown query parameter \"colour\""),
            ("s3://bkt?endpoint=ftp://x", "http:// or https://"),
            ("s3://bkt?retry_deadline=soon", "retry_deadline"),
            ("s3://bkt?endpoint=%zz", "bad %-escape"),
            ("file:///x", "starts with s3://"),
        ] {
            let err = S3Config::from_url_with_env(url, no_env).expect_err(url);
            assert_eq!(err.kind(), crate::ErrorKind::Invalid, "{url}: {err}");
            assert!(err.to_string().contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn aws_endpoint_variables_are_left_to_the_sdk() {
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL" => Some("http://generic:1".to_string()),
            "AWS_ENDPOINT_URL_S3" => Some("http://localhost:9000".to_string()),
            _ => None,
        };
        let c = S3Config::from_url_with_env("s3://bkt", env).expect("env");
        assert_eq!(c.endpoint, None, "resolved by the AWS SDK, not here");
        assert_eq!(c.path_style, None, "decided once the endpoint is known");
        let c = S3Config::from_url_with_env("s3://bkt?endpoint=http://10.0.0.1", env).expect("q");
        assert_eq!(c.endpoint.as_deref(), Some("http://10.0.0.1"));
    }

    #[test]
    fn path_style_decision() {
        for (endpoint, want) in [
            (None, false),
            (Some("http://127.0.0.1:9000"), true),
            (Some("http://localhost:9000"), true),
            (Some("http://minio.localhost:9000"), true),
            (Some("http://[::1]:9000/"), true),
            (Some("https://192.168.1.20"), true),
            (Some("https://minio.example.com"), true),
            (Some("https://storage.example.com:443/base"), true),
            (Some("http://user@10.1.2.3:80"), true),
            (Some("https://notamazonaws.com"), true),
            (Some("https://s3.eu-west-1.amazonaws.com"), false),
            (Some("https://S3.AMAZONAWS.COM"), false),
            (Some("https://s3.cn-north-1.amazonaws.com.cn:443"), false),
        ] {
            assert_eq!(path_style(endpoint, None), want, "{endpoint:?}");
        }
        assert!(path_style(Some("https://s3.amazonaws.com"), Some(true)));
        assert!(!path_style(Some("http://127.0.0.1"), Some(false)));

        assert_eq!(forced_path_style(Some("true")), Ok(Some(true)));
        assert_eq!(forced_path_style(Some(" FALSE ")), Ok(Some(false)));
        assert_eq!(forced_path_style(Some("")), Ok(None));
        assert_eq!(forced_path_style(None), Ok(None));
        let err = forced_path_style(Some("maybe")).expect_err("bad value");
        assert!(err.contains("TUSK_S3_PATH_STYLE"), "{err}");

        let env = |name: &str| (name == "TUSK_S3_PATH_STYLE").then(|| "false".to_string());
        let c = S3Config::from_url_with_env("s3://bkt?endpoint=http://127.0.0.1:1", env)
            .expect("parse");
        assert_eq!(c.path_style, Some(false), "env forces virtual hosts");
        let bad = |name: &str| (name == "TUSK_S3_PATH_STYLE").then(|| "sometimes".to_string());
        let err = S3Config::from_url_with_env("s3://bkt", bad).expect_err("bad env value");
        assert_eq!(err.kind(), crate::ErrorKind::Invalid, "{err}");
    }

    #[test]
    fn debug_redacts_credentials() {
        let mut c = S3Config::from_url_with_env("s3://bkt", no_env).expect("parse");
        c.static_credentials = Some(("AKID".to_string(), "s3cr3t".to_string()));
        let text = format!("{c:?}");
        assert!(
            !text.contains("s3cr3t") && text.contains("redacted"),
            "{text}"
        );
    }
}
