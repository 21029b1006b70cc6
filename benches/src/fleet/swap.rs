//! `swap`: steady Get load on one node for twice `duration`; halfway, this same
//! process publishes and activates a new version of the same size, so the node
//! downloads it, verifies it and swaps it in under load. The p99 of each
//! one-second window is compared with the steady p99 (the median of the windows
//! before the publish).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tusk_client::Node;

use super::error::FleetResult;
use super::load::closed_loop;
use super::node::{self, KEYS, KeySet, Request, hex};
use super::report::{Row, ScenarioReport};
use super::stats::{Want, swap_figures, verdict, window_p99s};
use super::version::{self, DOMAIN};
use crate::data::VALUE_LEN;

/// The worst window's p99 may be at most this many steady p99s.
pub const TARGET: f64 = 1.3;
/// How often the node polls `CURRENT`.
const POLL: Duration = Duration::from_millis(100);
/// Not yet seen.
const NEVER: u64 = u64::MAX;

/// A Get load that accepts answers from `v1` or `v2` and notes (in µs since
/// `base`) when `v2` first answered.
fn get_noting_v2(
    nodes: Vec<Node>,
    base: Instant,
    first_v2: Arc<AtomicU64>,
) -> impl Fn(usize, u64) -> Request + Send + Sync + 'static {
    let keys = KeySet::All(KEYS);
    move |task: usize, i: u64| -> Request {
        let node = nodes[task % nodes.len()].clone();
        let k = keys.pick(task, i);
        let first_v2 = Arc::clone(&first_v2);
        Box::pin(async move {
            let got = node
                .get(DOMAIN, &k, None)
                .await
                .map_err(|e| e.to_string())?;
            if !got.found || got.value.len() != VALUE_LEN {
                return Err(format!("key {} not answered right", hex(&k)));
            }
            match got.version.as_str() {
                "v1" => Ok(()),
                "v2" => {
                    let at = u64::try_from(base.elapsed().as_micros()).unwrap_or(NEVER - 1);
                    first_v2.fetch_min(at, Ordering::Relaxed);
                    Ok(())
                }
                other => Err(format!("answered from unknown version {other:?}")),
            }
        })
    }
}

/// Runs the scenario for twice `duration`.
pub async fn run(duration: Duration, parent: &Path) -> FleetResult<ScenarioReport> {
    let (dir, catalog) = node::store_with_v1(parent).await?;
    // v2 is built before the load starts (a writer builds elsewhere); its publish
    // (copy into the store, manifest, CURRENT) runs during the load.
    let build = dir.path().join("build-v2");
    node::mkdir(&build)?;
    let v2 = version::build(&build, "v2", KEYS, node::SHARDS, 2)?;
    let config = node::node_config(&catalog, &dir.path().join("data"), POLL);
    let (server, nodes) = node::start_serving("swap", config).await?;

    let base = Instant::now();
    let measured = base + node::WARMUP;
    let first_v2 = Arc::new(AtomicU64::new(NEVER));
    // Joined with the load on this task (not spawned): the store's futures are
    // not `Send` for every lifetime, and this needs no second task.
    let publisher = async {
        tokio::time::sleep_until(measured + duration).await;
        let started = measured.elapsed();
        let result = version::publish_and_activate(&catalog, &v2, &build).await;
        (started, measured.elapsed(), result)
    };
    let (run, (publish_start, publish_end, published)) = tokio::join!(
        closed_loop(
            node::load(duration * 2),
            get_noting_v2(nodes, base, Arc::clone(&first_v2)),
        ),
        publisher
    );
    server.shutdown().await;
    published?;

    let p99s = window_p99s(&run.windows);
    let publish_window = duration.as_secs() as usize;
    let figures = swap_figures(&p99s, publish_window);
    let swapped = match first_v2.load(Ordering::Relaxed) {
        NEVER => None,
        us => Some(Duration::from_micros(us).saturating_sub(node::WARMUP)),
    };
    let windows: Vec<String> = p99s
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mark = if i == publish_window { "|" } else { "" };
            format!("{mark}{}", p.map_or_else(|| "-".into(), |p| p.to_string()))
        })
        .collect();
    let mut details = vec![
        format!(
            "p99 per 1 s window (us; '|' = publish): {}",
            windows.join(" ")
        ),
        format!(
            "publish (in this process) ran {:.2}-{:.2} s into the run; first v2 answer at {}",
            publish_start.as_secs_f64(),
            publish_end.as_secs_f64(),
            swapped.map_or_else(
                || "never (the node did not swap)".to_string(),
                |d| format!("{:.2} s", d.as_secs_f64())
            )
        ),
    ];
    if let Some(f) = figures {
        details.push(format!(
            "steady p99 {:.0} us (median of {} windows before the publish); worst after: {} us in window {}",
            f.steady_p99_us, publish_window, f.worst_p99_us, f.worst_window
        ));
    }
    let r = figures.map(|f| f.ratio);
    let ok = run.errors == 0 && swapped.is_some();
    Ok(ScenarioReport {
        name: "swap",
        setup: format!(
            "Get load for {:.0} s on one node ({KEYS} keys, {} shards), v2 published at {:.0} s, {} tasks over {} connections",
            2.0 * duration.as_secs_f64(),
            node::SHARDS,
            duration.as_secs_f64(),
            node::TASKS,
            node::CONNECTIONS
        ),
        rows: vec![Row::of("tusk Get across the swap", &run)],
        ratio_what: "worst window p99 / steady p99 (0 errors)".into(),
        ratio: r,
        want: Want::AtMost(TARGET),
        verdict: verdict(r, Want::AtMost(TARGET), ok),
        details,
    })
}
