//! Building the AWS SDK client, once, at the store's first request (loading the AWS
//! configuration is async and `open_store` is not).
//!
//! The AWS settings are the SDK's to resolve (environment, shared config and
//! credentials files, SSO); tusk only sets what it must:
//! - the region chain without the instance metadata service (IMDS): off EC2 it only
//!   costs time and prints warnings, so `AWS_REGION`, then the profile, then
//!   `us-east-1`;
//! - the credential chain with IMDS tried once with a short timeout, and the whole
//!   chain cut off after [`CREDENTIALS_TIMEOUT`], so missing credentials fail fast;
//! - `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` applied to S3's own endpoint settings too
//!   (`AWS_ENDPOINT_URL_S3`, a profile's `services` section): aws-config 1.8 honours it
//!   for the global endpoint only (fixed in releases that need a newer Rust).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::default_provider::ignore_configured_endpoint_urls::ignore_configured_endpoint_urls_provider;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::identity::IdentityCache;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_types::service_config::ServiceConfigKey;

use super::config::{DEFAULT_REGION, S3Config, path_style};
use super::credentials::{CREDENTIALS_TIMEOUT, IMDS_TIMEOUT, TimeLimited};

/// The client and the settings it was built with: `config` with the endpoint, region
/// and path style actually in use (for error messages).
#[derive(Debug, Clone)]
pub(crate) struct Built {
    /// The S3 client.
    pub client: Client,
    /// The store's settings as resolved.
    pub config: S3Config,
}

/// The endpoint requests go to: the explicit one (URL `endpoint=`) wins; else the one
/// the AWS configuration names, unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` (or the
/// profile's `ignore_configured_endpoint_urls`) is true; else none (AWS itself).
pub(crate) fn effective_endpoint(
    explicit: Option<&str>,
    ignore_configured: bool,
    configured: Option<String>,
) -> Option<String> {
    match explicit {
        Some(e) => Some(e.to_string()),
        None if ignore_configured => None,
        None => configured.filter(|e| !e.is_empty()),
    }
}

/// Builds the S3 client for `config`:
/// - HTTP: hyper 1 with rustls on ring (no aws-lc build), connect timeout from the config;
/// - the SDK's retries are off: `s3::retry` retries with a deadline, bodies included;
/// - region: the config's, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else the profile's,
///   else `us-east-1`;
/// - credentials: the config's static pair, else the AWS credential chain (see the
///   module doc);
/// - endpoint: see [`effective_endpoint`]; path style: see [`path_style`];
/// - checksums only when we send them (`x-amz-checksum-crc32` precomputed from the
///   writer's CRC32), so uploads are never re-framed as aws-chunked streams.
pub(crate) async fn build(config: &S3Config) -> Built {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // What the credential and region providers read (process environment, profile
    // files), with our HTTP client for the ones that call out (SSO, STS, ECS, IMDS).
    let providers = ProviderConfig::without_region().with_http_client(http.clone());
    let region = match &config.region {
        Some(region) => Region::new(region.clone()),
        None => region_without_imds(&providers).await,
    };
    let providers = providers.with_region(Some(region.clone()));

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(region.clone())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(config.connect_timeout)
                .build(),
        )
        .retry_config(RetryConfig::disabled())
        // Our own limit (TimeLimited) fires first and says what timed out.
        .identity_cache(
            IdentityCache::lazy()
                .load_timeout(CREDENTIALS_TIMEOUT + Duration::from_secs(1))
                .build(),
        );
    loader = match &config.static_credentials {
        Some((id, secret)) => loader.credentials_provider(Credentials::new(
            id.clone(),
            secret.clone(),
            None,
            None,
            "tusk-static",
        )),
        None => loader.credentials_provider(TimeLimited::new(
            credential_chain(&providers, region.clone()).await,
            CREDENTIALS_TIMEOUT,
        )),
    };
    let shared = loader.load().await;

    let ignore = ignore_configured_endpoint_urls_provider(&providers)
        .await
        .unwrap_or(false);
    // The key the S3 client itself uses: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the
    // profile's `services` section for s3, the profile's `endpoint_url`.
    let configured = shared.service_config().and_then(|c| {
        c.load_config(
            ServiceConfigKey::builder()
                .service_id("S3")
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .expect("service id, env and profile key are all set"),
        )
    });
    let endpoint = effective_endpoint(config.endpoint.as_deref(), ignore, configured);
    let path_style = path_style(endpoint.as_deref(), config.path_style);

    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
    builder.set_endpoint_url(endpoint.clone());
    let client = Client::from_conf(builder.build());
    let mut resolved = config.clone();
    resolved.endpoint = endpoint;
    resolved.region = Some(region.to_string());
    resolved.path_style = Some(path_style);
    tracing::debug!(config = ?resolved, "s3 client built");
    Built {
        client,
        config: resolved,
    }
}

/// The region from `AWS_REGION` / `AWS_DEFAULT_REGION`, else the profile, else
/// [`DEFAULT_REGION`]: the SDK's default chain without its last step, IMDS.
async fn region_without_imds(providers: &ProviderConfig) -> Region {
    RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(
            ProfileFileRegionProvider::builder()
                .configure(providers)
                .build(),
        )
        .region()
        .await
        .unwrap_or_else(|| Region::new(DEFAULT_REGION))
}

/// The SDK's default credential chain (environment, profile with SSO, web identity,
/// ECS, IMDS) with IMDS asked once, with short timeouts.
async fn credential_chain(providers: &ProviderConfig, region: Region) -> DefaultCredentialsChain {
    let imds = aws_config::imds::Client::builder()
        .configure(providers)
        .max_attempts(1)
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .operation_attempt_timeout(IMDS_TIMEOUT * 2)
        .operation_timeout(IMDS_TIMEOUT * 2)
        .build();
    DefaultCredentialsChain::builder()
        .configure(providers.clone())
        .region(region)
        .imds_client(imds)
        .build()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explicit_endpoint_wins_and_ignoring_drops_the_configured_one() {
        let configured = || Some("http://127.0.0.1:9000".to_string());
        assert_eq!(
            effective_endpoint(Some("http://10.0.0.1"), true, configured()).as_deref(),
            Some("http://10.0.0.1")
        );
        assert_eq!(
            effective_endpoint(Some("http://10.0.0.1"), false, configured()).as_deref(),
            Some("http://10.0.0.1")
        );
        assert_eq!(
            effective_endpoint(None, false, configured()).as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(effective_endpoint(None, true, configured()), None);
        assert_eq!(effective_endpoint(None, false, None), None);
        assert_eq!(effective_endpoint(None, false, Some(String::new())), None);
    }
}
