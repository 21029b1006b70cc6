//! `restart`: how long a node takes to serve again when it restarts on a version
//! it already holds on disk. The node downloads (and fully verifies) the version
//! once, stops, and starts again on the same data dir; the time from
//! `Server::start` to the first answered Get is compared with the goal of one
//! second per 10 GB of shards. The reference is the first start, which downloads
//! and verifies every byte.
//!
//! It restarts twice: warm (the files still in the page cache, as after a process
//! restart), then cold (the shard files dropped from the page cache first, as after
//! a reboot). The verdict is the cold one's.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{Advice, fadvise};

use tokio::time::Instant;
use tusk_server::{Server, ServerConfig};

use super::error::{FleetError, FleetResult};
use super::node;
use super::report::ScenarioReport;
use super::stats::{Want, ratio, verdict};

/// Records of the restarted version (about 1.9 GB of shards).
pub const RESTART_KEYS: usize = 10_000_000;
/// Seconds to serve again may be at most this many per 10 GB of shards.
pub const TARGET_SECS_PER_10GB: f64 = 1.0;

/// Starts a node on `config` and returns it with the time until it answered a
/// Get from `v1`.
async fn start_and_time(
    config: ServerConfig,
) -> FleetResult<(tusk_server::RunningServer, Duration)> {
    let started = Instant::now();
    let server = Server::start(config)
        .await
        .map_err(|source| FleetError::Server {
            scenario: "restart",
            source: Box::new(source),
        })?;
    let nodes = node::connections("restart", server.grpc_addr()).await?;
    // Asked every millisecond: the figure is a few milliseconds.
    node::wait_version_every("restart", &nodes[0], "v1", Duration::from_millis(1)).await?;
    Ok((server, started.elapsed()))
}

/// The shard files under `dir` (recursively), with their sizes.
fn shard_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                shard_files(&path)
            } else if path.extension().is_some_and(|x| x == "tsk") {
                let len = e.metadata().map_or(0, |m| m.len());
                vec![(path, len)]
            } else {
                Vec::new()
            }
        })
        .collect()
}

/// Drops `files` from the page cache, as a reboot would. Their pages are clean
/// (each file was fsynced after its download), so `POSIX_FADV_DONTNEED` evicts
/// them; no privilege is needed, unlike writing `/proc/sys/vm/drop_caches`.
fn evict(files: &[(PathBuf, u64)]) -> FleetResult<()> {
    for (path, _) in files {
        let evicted = File::open(path)
            .and_then(|f| fadvise(&f, 0, None, Advice::DontNeed).map_err(Into::into));
        evicted.map_err(|e| {
            FleetError::setup(
                "restart",
                format!("cannot drop {} from the page cache: {e}", path.display()),
            )
        })?;
    }
    Ok(())
}

/// Runs the scenario (`duration` is not used: the figure is a start-up time).
pub async fn run(parent: &Path) -> FleetResult<ScenarioReport> {
    let (dir, catalog) = node::store_with_keys(parent, RESTART_KEYS).await?;
    let data = dir.path().join("data");
    let config = || {
        let mut c = node::node_config(&catalog, &data, Duration::from_secs(5));
        // The restart's own background re-check would compete with nothing here,
        // but it is not part of "serving again": leave it to its schedule.
        c.scrub_interval = Duration::ZERO;
        c
    };
    let (first, download) = start_and_time(config()).await?;
    first.shutdown().await;
    let files = shard_files(&data);
    let bytes: u64 = files.iter().map(|(_, len)| len).sum();
    let (second, warm) = start_and_time(config()).await?;
    second.shutdown().await;
    evict(&files)?;
    let (third, cold) = start_and_time(config()).await?;
    third.shutdown().await;

    let tens_of_gb = bytes as f64 / 10e9;
    let per_10gb = |d: Duration| d.as_secs_f64() / tens_of_gb.max(1e-9);
    let (warm_per_10gb, cold_per_10gb) = (per_10gb(warm), per_10gb(cold));
    let r = ratio(Some(cold_per_10gb), Some(TARGET_SECS_PER_10GB));
    let want = Want::AtMost(1.0);
    Ok(ScenarioReport {
        name: "restart",
        setup: format!(
            "one node over {RESTART_KEYS} keys in {} shards ({:.2} GB of shards), \
             stopped and started again on its data dir, warm then with its shard \
             files dropped from the page cache",
            node::SHARDS,
            bytes as f64 / 1e9
        ),
        rows: Vec::new(),
        ratio_what: format!("cold restart secs per 10 GB / {TARGET_SECS_PER_10GB} s"),
        ratio: r,
        want,
        verdict: verdict(r, want, true),
        details: vec![
            format!(
                "first start (download, verify, open): {:.2} s",
                download.as_secs_f64()
            ),
            format!(
                "restart on the same data dir, page cache warm: {:.3} s, {warm_per_10gb:.3} s per 10 GB",
                warm.as_secs_f64()
            ),
            format!(
                "restart on the same data dir, shard files dropped from the page cache: {:.3} s, {cold_per_10gb:.3} s per 10 GB",
                cold.as_secs_f64()
            ),
        ],
    })
}
