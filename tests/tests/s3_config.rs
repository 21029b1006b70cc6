//! How `tusk` takes its S3 settings from the AWS configuration, seen through real
//! `tusk` processes on a real S3-protocol server (moto on 127.0.0.1): endpoints from
//! the environment and from profile files, `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`, SSO,
//! missing and rejected credentials, and no instance-metadata noise.
//!
//! Every process runs with the harness's scrubbed environment plus what the test sets;
//! none reads the developer's `~/.aws` (the config and credentials files are always
//! set). Nothing here leaves 127.0.0.1: where the AWS endpoint itself would be used,
//! the region is not a valid DNS name, so the SDK refuses before any connection.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tusk_tests::s3::{ACCESS_KEY, MotoServer, REGION, SECRET_KEY, no_aws_files};
use tusk_tests::{Tusk, free_port};

const BUCKET: &str = "tusk-s3-config";
const DOMAIN: &str = "pages";
/// A region the S3 endpoint rules refuse (not a DNS name): a request that was to go to
/// AWS itself fails before connecting, naming the region.
const NO_REGION: &str = "no_such_region";
/// Longest any one `tusk` process here may run: a hang guard, not a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The moto credentials, no endpoint, no region, no profile files.
fn credentials_only() -> Vec<(String, String)> {
    let mut vars = env(&[
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ]);
    vars.extend(no_aws_files());
    vars
}

/// Runs `tusk ARGS` with `vars`, killing it (and failing) if it outlives [`HANG_GUARD`].
fn run_bounded(vars: &[(String, String)], args: &[&str]) -> Output {
    let mut child = Tusk::with_env(vars)
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tusk");
    let start = Instant::now();
    while child.try_wait().expect("poll tusk").is_none() {
        if start.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap tusk");
            panic!(
                "tusk {} still running after {HANG_GUARD:?}; stderr:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect tusk output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one `tusk: error:` line of a failed run.
fn error_line(out: &Output) -> String {
    assert!(!out.status.success(), "tusk unexpectedly succeeded");
    let text = stderr(out);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tusk: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one error line in:\n{text}");
    lines[0].to_string()
}

/// Publishes one version of [`DOMAIN`] at `url` (moto's environment) and returns its id.
fn publish(moto: &MotoServer, url: &str, dir: &Path) -> String {
    let input = dir.join("input.tsv");
    let records = [("k".to_string(), "v".to_string())];
    let summary = Tusk::with_env(&moto.env()).write_version(url, DOMAIN, &input, &records, 1, &[]);
    summary["version"].as_str().expect("version").to_string()
}

/// `tusk versions` on `url`, which must succeed and list `version`.
fn lists(vars: &[(String, String)], url: &str, version: &str) {
    let out = run_bounded(vars, &["versions", "--store", url, "--domain", DOMAIN]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tusk versions --store {url} failed:\n{}",
        stderr(&out)
    );
    assert!(text.contains(version), "{version} in {text}");
}

/// `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_S3` are used, unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`: then requests go to AWS itself (here
/// refused before connecting: the region is no DNS name). An explicit `?endpoint=`
/// still wins.
#[test]
fn ignore_configured_endpoint_urls_drops_the_configured_endpoint_but_not_the_url_one() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let version = publish(&moto, &format!("s3://{BUCKET}/ignore"), dir.path());
    let url = format!("s3://{BUCKET}/ignore?region={NO_REGION}&retry_deadline=2s");

    for name in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"] {
        let mut vars = credentials_only();
        vars.push((name.to_string(), moto.endpoint()));
        // Control: the configured endpoint is used (and the region does not matter).
        lists(&vars, &url, &version);

        vars.push((
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS".to_string(),
            "true".to_string(),
        ));
        let out = run_bounded(&vars, &["versions", "--store", &url, "--domain", DOMAIN]);
        let line = error_line(&out);
        assert!(
            line.contains(&format!("AWS S3 ({NO_REGION})")),
            "{name} ignored: {line}"
        );
        assert!(line.contains("Invalid region"), "{name} ignored: {line}");
        assert!(
            !line.contains(&moto.endpoint()),
            "{name} ignored: not sent to moto: {line}"
        );

        let explicit = format!("{url}&endpoint={}", moto.endpoint());
        lists(&vars, &explicit, &version);
    }
}

/// An endpoint set in a profile file is used, both a profile's `endpoint_url` and an
/// S3 entry of its `services` section, with path-style addressing: the endpoint names
/// `localhost`, and a virtual host such as `bucket.localhost` does not resolve
/// everywhere (an IP address would get path style from the SDK's own rules).
#[test]
fn an_endpoint_in_a_profile_file_is_honoured() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let version = publish(&moto, &format!("s3://{BUCKET}/profile"), dir.path());
    let url = format!("s3://{BUCKET}/profile?retry_deadline=5s");
    let config = dir.path().join("aws-config");
    let endpoint = moto.endpoint().replace("127.0.0.1", "localhost");

    for (profile, text) in [
        (
            None,
            format!("[default]\nregion = {REGION}\nendpoint_url = {endpoint}\n"),
        ),
        (
            Some("local"),
            format!(
                "[default]\nregion = {REGION}\n\n[profile local]\nservices = local-s3\n\n\
                 [services local-s3]\ns3 =\n  endpoint_url = {endpoint}\n"
            ),
        ),
    ] {
        std::fs::write(&config, &text).expect("write the AWS config file");
        let mut vars = credentials_only();
        vars.retain(|(k, _)| k != "AWS_CONFIG_FILE");
        vars.push((
            "AWS_CONFIG_FILE".to_string(),
            config.to_str().expect("utf-8 path").to_string(),
        ));
        if let Some(profile) = profile {
            vars.push(("AWS_PROFILE".to_string(), profile.to_string()));
        }
        lists(&vars, &url, &version);
    }
}

/// No credentials anywhere: the command fails at once, without retrying, with one line
/// that names the chain tried and what to set, whether the instance metadata service
/// is disabled or refuses connections.
#[test]
fn missing_credentials_fail_fast_naming_the_chain_and_what_to_set() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").expect("write an empty file");
    let empty = empty.to_str().expect("utf-8 path");
    let url = format!("s3://{BUCKET}/none?endpoint={}", moto.endpoint());
    let closed_imds = format!("http://127.0.0.1:{}", free_port());

    for imds in [
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed_imds.as_str()),
    ] {
        let vars = env(&[
            ("AWS_CONFIG_FILE", empty),
            ("AWS_SHARED_CREDENTIALS_FILE", empty),
            imds,
        ]);
        let out = run_bounded(&vars, &["versions", "--store", &url, "--domain", DOMAIN]);
        let line = error_line(&out);
        for part in [
            &format!(
                "no AWS credentials for bucket \"{BUCKET}\" at {}",
                moto.endpoint()
            ),
            "environment variables",
            "AWS_PROFILE",
            "SSO",
            "web identity",
            "ECS",
            "IMDS",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            "aws sso login",
            "not retried",
        ] {
            assert!(line.contains(part), "{imds:?}: {part:?} in {line}");
        }
        assert!(!line.contains("gave up after"), "{imds:?}: {line}");
    }
}

/// moto checking credentials like S3 does refuses an unknown access key (HTTP 403
/// InvalidAccessKeyId): the command fails at once and says the credentials were
/// rejected and not retried. (A wrong secret or an expired session token cannot be
/// produced on moto: no key is known to it; `errors.rs` unit-tests their mapping.)
#[test]
fn rejected_credentials_are_not_retried_and_say_so() {
    let moto = MotoServer::start_with_auth(&[BUCKET]);
    let mut vars = moto.env();
    for (name, value) in &mut vars {
        if name == "AWS_ACCESS_KEY_ID" {
            *value = "AKIABOGUSBOGUSBOGUS0".to_string();
        }
    }
    // The default retry deadline (60 s) is longer than the hang guard: a retried
    // rejection would trip it.
    let url = format!("s3://{BUCKET}/rejected");
    let out = run_bounded(&vars, &["versions", "--store", &url, "--domain", DOMAIN]);
    let line = error_line(&out);
    assert!(
        line.contains(&format!(
            "S3 rejected the credentials for bucket \"{BUCKET}\" at {} (InvalidAccessKeyId)",
            moto.endpoint()
        )),
        "{line}"
    );
    assert!(line.contains("not retried"), "{line}");
    assert!(line.contains("AWS_SECRET_ACCESS_KEY"), "{line}");
    assert!(!line.contains("gave up after"), "{line}");
}

/// Without `AWS_REGION` the region comes from the profile or defaults to us-east-1;
/// the instance metadata service is not asked for it, so nothing is logged about it
/// (it refuses connections here, as off EC2).
#[test]
fn no_instance_metadata_noise_without_a_region() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let version = publish(&moto, &format!("s3://{BUCKET}/quiet"), dir.path());
    let mut vars = credentials_only();
    vars.push(("AWS_ENDPOINT_URL".to_string(), moto.endpoint()));
    vars.push((
        "AWS_EC2_METADATA_SERVICE_ENDPOINT".to_string(),
        format!("http://127.0.0.1:{}", free_port()),
    ));
    let url = format!("s3://{BUCKET}/quiet");
    let out = run_bounded(&vars, &["versions", "--store", &url, "--domain", DOMAIN]);
    let text = stderr(&out);
    assert!(out.status.success(), "versions failed:\n{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&version),
        "lists {version}"
    );
    assert!(!text.contains("IMDS"), "no IMDS noise:\n{text}");
    assert!(!text.contains("WARN"), "no warnings:\n{text}");
}

/// An IAM Identity Center (SSO) profile is understood (aws-config is built with SSO):
/// without a cached login the command fails at once, saying the SSO token could not be
/// loaded and to run `aws sso login`. `HOME` is a fresh directory, so there is no
/// token cache.
#[test]
fn an_sso_profile_without_a_login_says_to_log_in() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("aws-config");
    std::fs::write(
        &config,
        "[profile ops]\nsso_session = tusk-test\nsso_account_id = 111122223333\n\
         sso_role_name = Reader\nregion = eu-west-1\n\n\
         [sso-session tusk-test]\nsso_start_url = https://tusk-test.awsapps.com/start\n\
         sso_region = eu-west-1\n",
    )
    .expect("write the AWS config file");
    let home = dir.path().to_str().expect("utf-8 path");
    let config = config.to_str().expect("utf-8 path");
    let vars = env(&[
        ("HOME", home),
        ("AWS_CONFIG_FILE", config),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_PROFILE", "ops"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let url = format!("s3://{BUCKET}/sso?endpoint={}", moto.endpoint());
    let out = run_bounded(&vars, &["versions", "--store", &url, "--domain", DOMAIN]);
    let line = error_line(&out);
    assert!(
        line.contains(&format!("no AWS credentials for bucket \"{BUCKET}\"")),
        "{line}"
    );
    assert!(line.contains("SSO token"), "{line}");
    assert!(!line.contains("cargo feature"), "SSO is built in: {line}");
    assert!(line.contains("run `aws sso login`"), "{line}");
    assert!(line.contains("not retried"), "{line}");
}
