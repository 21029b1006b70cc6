//! The S3 transfer bench on a few MiB against a real moto on 127.0.0.1: every path
//! (multipart upload, parallel verified download, plain GET) must give back the
//! exact bytes that went up, and the whole run must report every workload.

use std::sync::Arc;

use tusk_benches::s3::transfer::{
    delete_all, dest_path, download_plain_all, download_verified_all, upload_all,
};
use tusk_benches::s3::{S3BenchConfig, data::write_random_file, run};
use tusk_store::{ObjectStore, S3Store};
use tusk_tests::s3::MotoServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_round_trip_the_exact_bytes() {
    let moto = tokio::task::spawn_blocking(|| {
        let moto = MotoServer::start();
        moto.create_bucket("smoke");
        moto
    })
    .await
    .unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(moto.config("smoke", "p")));
    let dir = tempfile::tempdir().unwrap();
    let (src, par, plain) = (
        dir.path().join("src"),
        dir.path().join("par"),
        dir.path().join("plain"),
    );
    for d in [&src, &par, &plain] {
        std::fs::create_dir(d).unwrap();
    }
    // 17 MiB + 3 is multipart (threshold 16 MiB) with a short last part; the
    // others are single PUTs, one smaller than a download chunk.
    let sizes = [(17 << 20) + 3, 1 << 20, 5];
    let files: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            write_random_file(
                &src.join(format!("f{i}")),
                &format!("k/f{i}"),
                size,
                i as u64,
            )
            .unwrap()
        })
        .collect();

    upload_all(&store, &files, 2).await.unwrap();
    download_verified_all(&store, &files, &par, 2, 3, 1 << 20)
        .await
        .unwrap();
    download_plain_all(&store, &files, &plain).await.unwrap();
    for f in &files {
        let original = std::fs::read(&f.path).unwrap();
        assert_eq!(original.len() as u64, f.size);
        for copy in [dest_path(&par, f), dest_path(&plain, f)] {
            let got = std::fs::read(&copy).unwrap();
            assert!(
                got == original,
                "{} differs from {}",
                copy.display(),
                f.path.display()
            );
        }
    }
    delete_all(&store, &files).await.unwrap();
    assert!(store.list("k/").await.unwrap().is_empty());

    // A corrupted source (its CRC no longer matches the upload) must stop a run.
    let mut wrong = files[1].clone();
    wrong.crc32 ^= 1;
    assert!(upload_all(&store, &[wrong], 1).await.is_err());

    // The whole run on a few MiB: one big file and three small ones.
    let config = S3BenchConfig {
        big_bytes: 3 << 20,
        shards: 3,
        shard_bytes: 1 << 20,
        chunk_bytes: 1 << 20,
        ..S3BenchConfig::default()
    };
    let report = run(
        &store,
        &config,
        dir.path(),
        "moto",
        &mut |_| {},
        &mut |_| {},
    )
    .await
    .unwrap();
    let shapes: Vec<_> = report
        .workloads
        .iter()
        .map(|w| (w.files, w.total_bytes))
        .collect();
    assert_eq!(shapes, [(1, 3 << 20), (3, 3 << 20)]);
    for w in &report.workloads {
        for t in [w.upload, w.parallel_download, w.plain_get] {
            assert!(t.secs > 0.0 && t.mb_per_sec.is_finite(), "{w:?}");
        }
    }
    assert!(
        store.list("s3bench/").await.unwrap().is_empty(),
        "objects left behind"
    );
    assert!(report.to_table().contains("3 x 1 MiB"));
}
