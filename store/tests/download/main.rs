//! Parallel, resumable, throttled downloads (`download_verified`) against a
//! local store wrapped with fault injection.

mod faulty;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;
use tusk_store::{
    DownloadOptions, DownloadReport, ErrorKind, LocalStore, ObjectStore, PutMode, RateLimiter,
    download_verified,
};

use faulty::DownloadHooks;
use tusk_store::conformance::{Intercepted, RangeFaults};

const CHUNK: u64 = 64 * 1024;
const KEY: &str = "d/versions/v1/shard-00000.tsk";

struct Setup {
    _dir: tempfile::TempDir,
    store: Intercepted,
    hooks: Arc<DownloadHooks>,
    dest: PathBuf,
}

impl Setup {
    /// The ranged-read faults and counters of the store.
    fn ranges(&self) -> &RangeFaults {
        self.hooks.ranges()
    }
}

fn pseudo_random(len: u64, seed: u64) -> Vec<u8> {
    tusk_store::conformance::pseudo_random(usize::try_from(len).expect("test sizes fit"), seed)
}

/// A store holding `data` at [`KEY`], and a destination path in a fresh dir.
async fn setup(data: &[u8]) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalStore::new(dir.path().join("store")).expect("store");
    local
        .put(KEY, Bytes::from(data.to_vec()), PutMode::Overwrite)
        .await
        .expect("put object");
    let dest = dir.path().join("data").join("shard-00000.tsk");
    let (hooks, store) = DownloadHooks::wrap(local);
    Setup {
        _dir: dir,
        store,
        hooks,
        dest,
    }
}

fn options(parallel_ranges: usize) -> DownloadOptions {
    DownloadOptions {
        chunk_size: CHUNK,
        parallel_ranges,
        ..DownloadOptions::default()
    }
}

fn with_suffix(dest: &Path, suffix: &str) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn part(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part")
}

fn sidecar(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part.progress")
}

async fn fetch(
    s: &Setup,
    data: &[u8],
    opts: &DownloadOptions,
) -> tusk_store::Result<DownloadReport> {
    let crc = crc32fast::hash(data);
    download_verified(&s.store, KEY, &s.dest, data.len() as u64, crc, opts).await
}

fn assert_done(s: &Setup, data: &[u8]) {
    let got = std::fs::read(&s.dest).expect("read dest");
    assert!(got == data, "downloaded bytes differ");
    assert!(!part(&s.dest).exists(), ".part left behind");
    assert!(!sidecar(&s.dest).exists(), "sidecar left behind");
}

#[tokio::test]
async fn parallel_download_is_correct_at_chunk_boundaries() {
    for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17] {
        let data = pseudo_random(size, size + 1);
        let s = setup(&data).await;
        let report = fetch(&s, &data, &options(4)).await.expect("download");
        assert_eq!(
            report,
            DownloadReport {
                fetched_bytes: size,
                reused_bytes: 0
            },
            "size {size}"
        );
        assert_eq!(s.ranges().take_served(), size, "size {size}");
        assert_done(&s, &data);
    }
}

#[tokio::test]
async fn the_default_options_work() {
    let data = pseudo_random(3 * CHUNK, 9);
    let s = setup(&data).await;
    download_verified(
        &s.store,
        KEY,
        &s.dest,
        data.len() as u64,
        crc32fast::hash(&data),
        &DownloadOptions::default(),
    )
    .await
    .expect("download");
    assert_done(&s, &data);
}

#[tokio::test]
async fn an_interrupted_download_resumes_with_only_the_missing_chunks() {
    let data = pseudo_random(10 * CHUNK + 3, 2);
    let s = setup(&data).await;
    s.ranges().fail_after(4);
    let err = fetch(&s, &data, &options(4))
        .await
        .expect_err("interrupted");
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
    assert!(err.to_string().contains("injected"), "{err}");
    assert!(!s.dest.exists(), "no destination after a failure");
    assert!(
        part(&s.dest).exists() && sidecar(&s.dest).exists(),
        "kept for resume"
    );
    let first = s.ranges().take_served();
    assert_eq!(first, 4 * CHUNK, "four ranged reads succeeded");

    s.ranges().heal();
    let report = fetch(&s, &data, &options(4)).await.expect("resumed");
    let second = s.ranges().take_served();
    assert_eq!(
        second,
        data.len() as u64 - first,
        "only the missing bytes are fetched"
    );
    assert_eq!(
        report,
        DownloadReport {
            fetched_bytes: second,
            reused_bytes: first
        }
    );
    assert_done(&s, &data);
}

#[tokio::test]
async fn repeated_interruptions_still_converge() {
    let data = pseudo_random(9 * CHUNK, 3);
    let s = setup(&data).await;
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 10, "no progress");
        s.ranges().fail_after(2);
        match fetch(&s, &data, &options(3)).await {
            Ok(_) => break,
            Err(e) => assert_eq!(e.kind(), ErrorKind::Retryable, "{e}"),
        }
    }
    assert_eq!(
        s.ranges().take_served(),
        data.len() as u64,
        "no chunk fetched twice"
    );
    assert_done(&s, &data);
}

#[tokio::test]
async fn a_chunk_corrupted_on_disk_between_attempts_is_fetched_again() {
    let data = pseudo_random(6 * CHUNK, 4);
    let s = setup(&data).await;
    s.ranges().fail_after(3);
    fetch(&s, &data, &options(1))
        .await
        .expect_err("interrupted");
    assert_eq!(
        s.ranges().take_served(),
        3 * CHUNK,
        "chunks 0, 1 and 2 landed"
    );

    // Flip a byte of chunk 1 in the partial file.
    let mut bytes = std::fs::read(part(&s.dest)).expect("read part");
    bytes[(CHUNK + 10) as usize] ^= 0xff;
    std::fs::write(part(&s.dest), &bytes).expect("write part");

    s.ranges().heal();
    let report = fetch(&s, &data, &options(1)).await.expect("resumed");
    assert_eq!(
        s.ranges().take_served(),
        4 * CHUNK,
        "chunk 1 and chunks 3..6"
    );
    assert_eq!(report.reused_bytes, 2 * CHUNK);
    assert_done(&s, &data);
}

#[tokio::test]
async fn a_changed_etag_starts_over() {
    let data = pseudo_random(5 * CHUNK, 5);
    let s = setup(&data).await;
    s.ranges().fail_after(2);
    fetch(&s, &data, &options(2))
        .await
        .expect_err("interrupted");
    assert!(s.ranges().take_served() > 0);

    s.ranges().heal();
    s.hooks.change_etag("-replaced");
    let report = fetch(&s, &data, &options(2)).await.expect("fresh download");
    assert_eq!(
        s.ranges().take_served(),
        data.len() as u64,
        "everything fetched again"
    );
    assert_eq!(report.reused_bytes, 0);
    assert_done(&s, &data);
}

#[tokio::test]
async fn a_changed_chunk_size_starts_over() {
    let data = pseudo_random(4 * CHUNK, 6);
    let s = setup(&data).await;
    s.ranges().fail_after(2);
    fetch(&s, &data, &options(1))
        .await
        .expect_err("interrupted");
    s.ranges().take_served();
    s.ranges().heal();
    let other = DownloadOptions {
        chunk_size: CHUNK / 2,
        ..options(2)
    };
    let report = fetch(&s, &data, &other).await.expect("fresh download");
    assert_eq!(report.reused_bytes, 0);
    assert_eq!(s.ranges().take_served(), data.len() as u64);
    assert_done(&s, &data);
}

#[tokio::test]
async fn a_checksum_mismatch_cleans_up_everything() {
    let data = pseudo_random(3 * CHUNK + 1, 7);
    let s = setup(&data).await;
    // A resumable leftover first, so the cleanup has something to remove.
    s.ranges().fail_after(1);
    fetch(&s, &data, &options(1))
        .await
        .expect_err("interrupted");
    s.ranges().heal();
    let wrong = crc32fast::hash(&data) ^ 1;
    let err = download_verified(
        &s.store,
        KEY,
        &s.dest,
        data.len() as u64,
        wrong,
        &options(4),
    )
    .await
    .expect_err("bad checksum");
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    assert!(err.to_string().contains(KEY), "{err}");
    assert!(!s.dest.exists());
    assert!(!part(&s.dest).exists(), ".part removed");
    assert!(!sidecar(&s.dest).exists(), "sidecar removed");
}

#[tokio::test]
async fn a_size_mismatch_fails_before_fetching() {
    let data = pseudo_random(2 * CHUNK, 8);
    let s = setup(&data).await;
    let crc = crc32fast::hash(&data);
    let err = download_verified(
        &s.store,
        KEY,
        &s.dest,
        data.len() as u64 + 1,
        crc,
        &options(2),
    )
    .await
    .expect_err("size mismatch");
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    assert_eq!(s.ranges().take_served(), 0);
    assert!(!part(&s.dest).exists() && !sidecar(&s.dest).exists());
}

#[tokio::test]
async fn a_complete_destination_is_checked_not_fetched() {
    let data = pseudo_random(2 * CHUNK + 5, 10);
    let s = setup(&data).await;
    fetch(&s, &data, &options(2)).await.expect("first");
    s.ranges().take_served();
    let again = fetch(&s, &data, &options(2)).await.expect("second");
    assert_eq!(
        again,
        DownloadReport {
            fetched_bytes: 0,
            reused_bytes: data.len() as u64
        }
    );
    assert_eq!(s.ranges().take_served(), 0);

    // A destination with other bytes is replaced.
    std::fs::write(&s.dest, b"stale").expect("overwrite dest");
    let third = fetch(&s, &data, &options(2)).await.expect("third");
    assert_eq!(third.fetched_bytes, data.len() as u64);
    assert_done(&s, &data);
}

#[tokio::test]
async fn range_permits_bound_the_reads_in_flight() {
    let data = pseudo_random(8 * CHUNK, 11);
    let free = setup(&data).await;
    fetch(&free, &data, &options(4)).await.expect("unbounded");
    assert!(
        free.ranges().max_in_flight() >= 2,
        "parallel ranges overlap: {}",
        free.ranges().max_in_flight()
    );

    let bounded = setup(&data).await;
    let opts = DownloadOptions {
        range_permits: Some(Arc::new(Semaphore::new(1))),
        ..options(4)
    };
    fetch(&bounded, &data, &opts).await.expect("bounded");
    assert_eq!(bounded.ranges().max_in_flight(), 1);
    assert_done(&bounded, &data);
}

#[tokio::test]
async fn the_rate_limiter_bounds_throughput() {
    const MIB: u64 = 1 << 20;
    let data = pseudo_random(4 * MIB, 12);
    let s = setup(&data).await;
    let opts = DownloadOptions {
        chunk_size: MIB,
        parallel_ranges: 4,
        rate_limiter: Some(Arc::new(RateLimiter::new(8 * MIB, MIB))),
        range_permits: None,
    };
    let started = Instant::now();
    fetch(&s, &data, &opts).await.expect("download");
    // 1 MiB of burst, then 3 MiB at 8 MiB/s: at least 0.375 s. Lower bound only.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert_done(&s, &data);
}

#[tokio::test]
async fn a_zero_chunk_size_is_invalid() {
    let data = pseudo_random(10, 13);
    let s = setup(&data).await;
    let opts = DownloadOptions {
        chunk_size: 0,
        ..options(1)
    };
    let err = fetch(&s, &data, &opts).await.expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
}
