//! A missing bucket and credentials S3 does not know.

use tusk_tests::Tusk;
use tusk_tests::s3::MotoServer;

use crate::helpers::{BUCKET, DOMAIN, error_line};

/// A bucket that does not exist, and credentials S3 does not know: the command fails
/// at once with one line naming the bucket and the cause.
#[test]
fn s3_missing_bucket_and_unknown_credentials_are_named() {
    let moto = MotoServer::start();
    let url = "s3://no-such-bucket/x?attempt_timeout=2s&retry_deadline=5s";
    let out = Tusk::with_env(&moto.env()).run(&["versions", "--store", url, "--domain", DOMAIN]);
    assert!(!out.status.success(), "no bucket, no listing");
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    assert!(
        line.contains("bucket \"no-such-bucket\" does not exist"),
        "{line}"
    );
    assert!(line.contains(&moto.endpoint()), "{line}");
    drop(moto);

    let moto = MotoServer::start_with_auth(&[BUCKET]);
    let mut env = moto.env();
    for (name, value) in &mut env {
        if name == "AWS_ACCESS_KEY_ID" {
            *value = "AKIABOGUSBOGUSBOGUS0".to_string();
        }
    }
    let url = format!("s3://{BUCKET}/x?attempt_timeout=2s&retry_deadline=5s");
    let out = Tusk::with_env(&env).run(&["versions", "--store", &url, "--domain", DOMAIN]);
    assert!(!out.status.success(), "unknown key, no listing");
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    eprintln!("unknown access key: {line}");
    assert!(line.contains(&format!("bucket \"{BUCKET}\"")), "{line}");
    assert!(line.contains("InvalidAccessKeyId"), "{line}");
    assert!(line.contains("AWS_ACCESS_KEY_ID"), "{line}");
    assert!(line.contains(&moto.endpoint()), "{line}");
}
