//! `reuse`: how long a node takes to swap to a new version whose shards it
//! already holds on disk (every shard's bytes equal to the served version's, as
//! after a republish of the same data or a roll forward), against a version of
//! the same size whose every shard must be fetched. The time runs from the moment
//! `CURRENT` names the new version to the node's first answer from it; the node
//! polls every 10 ms on both sides.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;
use tusk_client::Node;
use tusk_store::{Catalog, Manifest};

use super::error::FleetResult;
use super::node;
use super::report::ScenarioReport;
use super::stats::{Want, ratio, verdict};
use super::version;

/// Records of each version (about 380 MB of shards).
pub const REUSE_KEYS: usize = 2_000_000;
/// A version whose shards are all on disk swaps in within this fraction of the
/// time a fetched one takes.
pub const TARGET_REUSE_RATIO: f64 = 0.1;
/// How often the node polls `CURRENT`.
const POLL: Duration = Duration::from_millis(10);

/// Builds and publishes `manifest`'s version from `dir`, makes it `CURRENT`, and
/// returns the time until `node` answered from it.
async fn swap_time(
    catalog: &Catalog,
    node: &Node,
    manifest: &Manifest,
    dir: &Path,
) -> FleetResult<Duration> {
    version::publish(catalog, manifest, dir).await?;
    let activated = Instant::now();
    version::activate(catalog, &manifest.version).await?;
    node::wait_version_every("reuse", node, &manifest.version, Duration::from_millis(1)).await?;
    Ok(activated.elapsed())
}

/// True when every shard file of `b` in `data` is the very file (inode) of `a`'s.
fn all_linked(data: &Path, a: &Manifest, b: &Manifest) -> bool {
    let inode = |m: &Manifest, object: &str| {
        std::fs::metadata(data.join(version::DOMAIN).join(&m.version).join(object))
            .map(|meta| meta.ino())
            .ok()
    };
    a.shards.iter().zip(&b.shards).all(|(x, y)| {
        let (i, j) = (inode(a, &x.object), inode(b, &y.object));
        i.is_some() && i == j
    })
}

/// Runs the scenario (`duration` is not used: the figures are swap times).
pub async fn run(parent: &Path) -> FleetResult<ScenarioReport> {
    let (dir, catalog) = node::store_with_keys(parent, REUSE_KEYS).await?;
    let data = dir.path().join("data");
    let (same_dir, other_dir) = (dir.path().join("build-v2"), dir.path().join("build-v3"));
    node::mkdir(&same_dir)?;
    node::mkdir(&other_dir)?;
    // v2 holds v1's records (tag 1, as `store_with_keys` builds v1): the same
    // bytes. v3 changes every value: every shard differs.
    let v2 = version::build(&same_dir, "v2", REUSE_KEYS, node::SHARDS, 1)?;
    let v3 = version::build(&other_dir, "v3", REUSE_KEYS, node::SHARDS, 3)?;
    let mut config = node::node_config(&catalog, &data, POLL);
    config.scrub_interval = Duration::ZERO;
    let (server, nodes) = node::start_serving("reuse", config).await?;
    let v1 = version::manifest(&catalog, "v1").await?;

    let reused = swap_time(&catalog, &nodes[0], &v2, &same_dir).await?;
    let linked = all_linked(&data, &v1, &v2);
    let fetched = swap_time(&catalog, &nodes[0], &v3, &other_dir).await?;
    server.shutdown().await;

    let r = ratio(Some(reused.as_secs_f64()), Some(fetched.as_secs_f64()));
    let want = Want::AtMost(TARGET_REUSE_RATIO);
    Ok(ScenarioReport {
        name: "reuse",
        setup: format!(
            "one node over {REUSE_KEYS} keys in {} shards ({:.2} GB of shards), polling every {POLL:?}: \
             swapped to a version with the same shard bytes, then to one with other bytes",
            node::SHARDS,
            v1.bytes as f64 / 1e9
        ),
        rows: Vec::new(),
        ratio_what: "swap time, shards on disk / shards fetched".to_string(),
        ratio: r,
        want,
        verdict: verdict(r, want, linked),
        details: vec![
            format!(
                "same bytes (hard-linked): {:.3} s from CURRENT to the first answer; every shard linked: {linked}",
                reused.as_secs_f64()
            ),
            format!(
                "other bytes (fetched, verified): {:.3} s",
                fetched.as_secs_f64()
            ),
        ],
    })
}
