//! Building the AWS SDK client, once, at the store's first request (loading the AWS
//! configuration is async and `open_store` is not).

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use super::config::{DEFAULT_REGION, S3Config};

/// Builds the S3 client for `config`:
/// - HTTP: hyper 1 with rustls on ring (no aws-lc build), connect timeout from the config;
/// - the SDK's retries are off: `s3::retry` retries with a deadline, bodies included;
/// - region: the config's, else the AWS chain (env, profile, ...), else `us-east-1`;
/// - credentials: the config's static pair, else the standard AWS credential chain;
/// - checksums only when we send them (`x-amz-checksum-crc32` precomputed from the
///   writer's CRC32), so uploads are never re-framed as aws-chunked streams.
pub(crate) async fn build(config: &S3Config) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(config.connect_timeout)
                .build(),
        )
        .retry_config(RetryConfig::disabled());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some((id, secret)) = &config.static_credentials {
        loader = loader.credentials_provider(Credentials::new(
            id.clone(),
            secret.clone(),
            None,
            None,
            "tusk-static",
        ));
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(config.path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
    if shared.region().is_none() {
        // The loader's own chain (which shares our HTTP client) found none.
        builder = builder.region(Region::new(DEFAULT_REGION));
    }
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Client::from_conf(builder.build())
}
