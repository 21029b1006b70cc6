//! Fleet benchmarks: closed-loop gRPC load from this process against tusk nodes,
//! each scenario beside its reference in the same run, with the ratio and the
//! verdict against the target.
//!
//! Load: [`node::TASKS`] tokio tasks, each with one request in flight, over
//! [`node::CONNECTIONS`] HTTP/2 connections (the `hedge` scenario: the routing
//! client's one connection per node), after a one-second warm-up; latencies in
//! hdrhistogram. Data: [`node::KEYS`] records of the lookup bench (24-byte keys,
//! 150-byte values) in [`node::SHARDS`] shards, built with the shard builder and
//! published to a local-directory store by this process.
//!
//! Scenarios ([`SCENARIOS`]): `floor` (tusk Get rps against an empty-answer
//! `tusk.v1.Tusk` on the same tonic stack), `multi_get` (per-key cost of a
//! MultiGet of 100 against a Get), `swap` (p99 per second while a new version
//! is published and swapped in), `forward` (direct against forwarded Gets in a
//! 2-node fleet), `hedge` (routing client across a 1 s SIGSTOP of one of three
//! `tusk serve` processes, without and with `hedge(5ms)`), `cpu_get` and
//! `cpu_multi_get` (the server threads' CPU time per Get and per MultiGet(100)
//! against a fixed-answer `tusk.v1.Tusk`, each on a runtime of its own), `restart`
//! (time to serve again after a restart on a version already on disk, page cache
//! warm and then dropped), `reuse`
//! (time to swap to a version whose shards are already on disk, against one
//! whose shards are fetched).

mod args;
pub mod cpu;
mod error;
pub mod floor;
pub mod forward;
pub mod hedge;
pub mod load;
pub mod multi_get;
pub mod node;
pub mod report;
pub mod restart;
pub mod reuse;
pub mod stats;
pub mod swap;
pub mod version;

use std::path::Path;

use tokio::runtime::Runtime;

pub use args::{FLEET_USAGE, FleetConfig, SCENARIOS, parse_duration};
pub use error::{FleetError, FleetResult};
pub use report::{FleetReport, ScenarioReport};

use crate::machine::Machine;

/// How the load is made, for the report.
pub fn load_description() -> String {
    format!(
        "closed loop, {} tokio tasks (one request in flight each) over {} HTTP/2 connections \
         ({:.0} s warm-up unrecorded); hedge: the routing client (one connection per node); \
         {} keys x 150-byte values in {} shards, keys drawn uniformly",
        node::TASKS,
        node::CONNECTIONS,
        node::WARMUP.as_secs_f64(),
        node::KEYS,
        node::SHARDS
    )
}

/// Runs the scenarios of `config` one after the other on `runtime`, with temp
/// files under `parent`. `on_start` sees the report before the first scenario,
/// `on_scenario` each one as soon as it is measured.
pub fn run(
    config: &FleetConfig,
    runtime: &Runtime,
    parent: &Path,
    log: &mut dyn FnMut(&str),
    on_start: &mut dyn FnMut(&FleetReport),
    on_scenario: &mut dyn FnMut(&ScenarioReport),
) -> FleetResult<FleetReport> {
    let mut report = FleetReport {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: Machine::detect(),
        config: config.clone(),
        load: load_description(),
        scenarios: Vec::new(),
    };
    on_start(&report);
    let d = config.duration;
    for &name in &config.only {
        log(&format!("[{name}] running"));
        let scenario = match name {
            "floor" => runtime.block_on(floor::run(d, parent))?,
            "multi_get" => runtime.block_on(multi_get::run(d, parent))?,
            "swap" => runtime.block_on(swap::run(d, parent))?,
            "forward" => runtime.block_on(forward::run(d, parent))?,
            "hedge" => hedge::run(d, parent, runtime.handle())?,
            "cpu_get" => cpu::run(cpu::Kind::Get, d, parent, runtime)?,
            "cpu_multi_get" => cpu::run(cpu::Kind::MultiGet, d, parent, runtime)?,
            "restart" => runtime.block_on(restart::run(parent))?,
            "reuse" => runtime.block_on(reuse::run(parent))?,
            other => {
                return Err(FleetError::Args(format!("unknown scenario {other:?}")));
            }
        };
        on_scenario(&scenario);
        report.scenarios.push(scenario);
    }
    Ok(report)
}
