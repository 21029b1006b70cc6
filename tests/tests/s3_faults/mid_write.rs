//! The store stops in the middle of `tusk write`.

use std::time::Duration;

use serde_json::Value;
use tusk_tests::{Tusk, wait_for, write_tsv};

use crate::helpers::{BUCKET, DOMAIN, S3, Spawned, error_line, json, records, runtime};

fn versions(tusk: &Tusk, url: &str) -> Vec<Value> {
    let out = tusk.ok(&["versions", "--store", url, "--domain", DOMAIN, "--json"]);
    json(&out).as_array().expect("a JSON array").clone()
}

/// The store stops answering while `tusk write` uploads shards: the write fails with
/// one line naming the bucket, leaves no visible version and no CURRENT, and a rerun
/// publishes.
#[test]
fn s3_stopping_mid_write_fails_cleanly_and_a_rerun_publishes() {
    let s3 = S3::start("write");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = s3.url();
    // 16 shards of about 1.5 MiB: uploaded four at a time, so when the first shard
    // object lands at least three more rounds and the manifest are still to come.
    let input = tmp.path().join("big.tsv");
    write_tsv(&input, &records("v", 24 * 1024, 1000));
    let args = [
        "write",
        "--store",
        url.as_str(),
        "--domain",
        DOMAIN,
        "--format",
        "tsv",
        "--input",
        input.to_str().expect("utf-8 path"),
        "--shards",
        "16",
        "--json",
    ];
    let mut writer = Spawned::new(&args, s3.tusk.env(), tmp.path(), "write");
    let shard_put = format!("PUT /{BUCKET}/write/{DOMAIN}/versions/");
    wait_for("the first shard upload", Duration::from_secs(60), || {
        let log = s3.moto.log();
        let landed = log
            .lines()
            .any(|l| l.contains(&shard_put) && l.contains("shard-"));
        (landed || writer.exited()).then_some(())
    });
    s3.moto.pause();
    let (status, stdout, stderr) = writer.finish(Duration::from_secs(30));
    s3.moto.resume();

    assert!(
        !status.success(),
        "the write must fail once the store stops (did it finish before the pause?):\n{stdout}"
    );
    let line = error_line(&stderr);
    eprintln!("the write failed: {line}");
    assert!(line.contains(&format!("s3://{BUCKET}/write")), "{line}");
    assert!(line.contains(&s3.moto.endpoint()), "{line}");
    assert!(
        line.contains("timed out") || line.contains("deadline"),
        "{line}"
    );

    assert_eq!(versions(&s3.tusk, &url), Vec::<Value>::new());
    let rt = runtime();
    let catalog = s3.catalog();
    let current = rt.block_on(catalog.current(DOMAIN)).expect("read CURRENT");
    assert_eq!(current, None, "no CURRENT after the failed write");
    let manifests: Vec<String> = rt
        .block_on(s3.objects().list(&format!("{DOMAIN}/")))
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with("MANIFEST.json"))
        .collect();
    assert!(manifests.is_empty(), "no manifest: {manifests:?}");

    let rerun = Spawned::new(&args, s3.tusk.env(), tmp.path(), "rerun");
    let (status, stdout, stderr) = rerun.finish(Duration::from_secs(120));
    assert!(status.success(), "rerun: {stderr}");
    let version = json(&stdout)["version"]
        .as_str()
        .expect("version")
        .to_string();
    let listed = versions(&s3.tusk, &url);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["version"], version.as_str());
    assert_eq!(listed[0]["current"], true);
    s3.tusk.ok(&[
        "verify",
        "--store",
        &url,
        "--domain",
        DOMAIN,
        "--version",
        &version,
    ]);
}
