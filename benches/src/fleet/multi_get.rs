//! `multi_get`: a MultiGet of 100 keys against single Gets on the same node,
//! compared per key: the throughput-based cost of one key in a MultiGet
//! (1 / keys per second) against the cost of one Get (1 / Gets per second).

use std::path::Path;
use std::time::Duration;

use tusk_client::Node;

use super::error::FleetResult;
use super::load::closed_loop;
use super::node::{self, KEYS, KeySet, Request, hex};
use super::report::{Row, ScenarioReport};
use super::stats::{Want, ratio, verdict};
use super::version::DOMAIN;
use crate::data::VALUE_LEN;

/// Keys per MultiGet.
pub const BATCH: u64 = 100;
/// A key in a MultiGet may cost at most this share of a Get.
pub const TARGET: f64 = 1.0 / 20.0;

/// A MultiGet load over a version of `keys` records: request `i` of task `t`
/// asks for the keys the Get load would ask in its requests `100 i .. 100 i + 99`;
/// every key must be found with a value of the bench's size.
pub fn tusk_multi_get(
    nodes: Vec<Node>,
    keys: usize,
) -> impl Fn(usize, u64) -> Request + Send + Sync + 'static {
    let keys = KeySet::All(keys);
    move |task: usize, i: u64| -> Request {
        let node = nodes[task % nodes.len()].clone();
        let batch: Vec<Vec<u8>> = (0..BATCH)
            .map(|j| keys.pick(task, i * BATCH + j).to_vec())
            .collect();
        Box::pin(async move {
            let got = node
                .multi_get(DOMAIN, batch.clone(), None)
                .await
                .map_err(|e| e.to_string())?;
            if got.entries.len() != batch.len() {
                return Err(format!(
                    "{} entries for {} keys",
                    got.entries.len(),
                    batch.len()
                ));
            }
            for (entry, k) in got.entries.iter().zip(&batch) {
                if !entry.found || entry.value.len() != VALUE_LEN {
                    return Err(format!("key {} not answered right", hex(k)));
                }
            }
            Ok(())
        })
    }
}

/// Runs the scenario: Gets, then MultiGets, each for `duration`, on one node.
pub async fn run(duration: Duration, parent: &Path) -> FleetResult<ScenarioReport> {
    let (dir, catalog) = node::store_with_v1(parent).await?;
    let config = node::node_config(&catalog, &dir.path().join("data"), Duration::from_secs(5));
    let (server, nodes) = node::start_serving("multi_get", config).await?;
    let get = closed_loop(
        node::load(duration),
        node::tusk_get(nodes.clone(), KeySet::All(KEYS)),
    )
    .await;
    let multi = closed_loop(node::load(duration), tusk_multi_get(nodes, KEYS)).await;
    server.shutdown().await;

    let keys_per_sec = multi.rps() * BATCH as f64;
    // Cost of a key = 1 / its rate, so cost(MultiGet key) / cost(Get) = Get rate / key rate.
    let r = ratio(Some(get.rps()), Some(keys_per_sec));
    let by_latency = ratio(
        Some(multi.summary().p50_us as f64 / BATCH as f64),
        Some(get.summary().p50_us as f64),
    );
    let errors = get.errors + multi.errors;
    let details = vec![
        format!(
            "keys/s: Get {:.0}, MultiGet {keys_per_sec:.0} ({:.1}x)",
            get.rps(),
            keys_per_sec / get.rps().max(1e-9)
        ),
        format!(
            "by latency: MultiGet p50 / {BATCH} = {:.1} us per key against a Get's p50 {} us: {}",
            multi.summary().p50_us as f64 / BATCH as f64,
            get.summary().p50_us,
            by_latency.map_or_else(|| "n/a".to_string(), |x| format!("{x:.3}"))
        ),
    ];
    Ok(ScenarioReport {
        name: "multi_get",
        setup: format!(
            "MultiGet of {BATCH} keys vs Get, one node, {KEYS} keys, {} tasks over {} connections, {:.0} s each",
            node::TASKS,
            node::CONNECTIONS,
            duration.as_secs_f64()
        ),
        rows: vec![
            Row::of("tusk Get", &get),
            Row::of(format!("tusk MultiGet x{BATCH}"), &multi),
        ],
        ratio_what: "MultiGet per-key cost / Get cost (by rate)".into(),
        ratio: r,
        want: Want::AtMost(TARGET),
        verdict: verdict(r, Want::AtMost(TARGET), errors == 0),
        details,
    })
}
