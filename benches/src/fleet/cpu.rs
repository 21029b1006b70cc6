//! `cpu_get` and `cpu_multi_get`: the server's own CPU time per request, tusk
//! against a reference `tusk.v1.Tusk` on the same tonic stack that answers every
//! key at once with a fixed value of the bench's size (no lookup, no metrics).
//!
//! Each server runs on its own tokio runtime (2 worker threads, named
//! [`TUSK_THREADS`] and [`REFERENCE_THREADS`]) inside this process, and the CPU
//! time of exactly the measured side's threads (`/proc/self/task/*/schedstat`, nanoseconds) is read before and after
//! each measured run, so the load generator's CPU does not count. The two sides
//! alternate for [`ROUNDS`] rounds, each with the same closed-loop load and keys;
//! the figure is the median of the rounds' ratios. The version has
//! [`CPU_KEYS`] records, so the lookups miss the CPU caches as in production.

use std::path::Path;
use std::time::Duration;

use tokio::runtime::Runtime;
use tonic::codegen::Bytes;
use tonic::{Request as Rpc, Response, Status};
use tusk_proto::VersionId;
use tusk_proto::v1::tusk_server::Tusk;
use tusk_proto::v1::{
    Entry, GetRequest, GetResponse, MultiGetRequest, MultiGetResponse, StatusRequest,
    StatusResponse, TopologyRequest, TopologyResponse,
};
use tusk_server::Server;

use super::error::{FleetError, FleetResult};
use super::floor::FloorServer;
use super::load::{LoadOptions, LoadRun, closed_loop};
use super::multi_get::{BATCH, tusk_multi_get};
use super::node::{self, KeySet, Request};
use super::report::{Row, ScenarioReport};
use super::stats::{Want, median, ratio, verdict};
use crate::data::VALUE_LEN;

/// Server CPU per Get may be at most this multiple of the reference's.
pub const GET_TARGET: f64 = 1.05;
/// Server CPU per MultiGet(100) may be at most this multiple of the reference's.
pub const MULTI_GET_TARGET: f64 = 1.2;
/// Records in the version both scenarios read.
pub const CPU_KEYS: usize = 1_000_000;
/// Rounds of (tusk, reference), alternating.
pub const ROUNDS: usize = 3;
/// Name of tusk's server runtime threads (at most 15 bytes: the kernel's limit).
pub const TUSK_THREADS: &str = "bench-tusk";
/// Name of the reference server's runtime threads.
pub const REFERENCE_THREADS: &str = "bench-reference";
/// Unmeasured load before each measured run.
const WARMUP: Duration = Duration::from_secs(1);

/// Which request the scenario measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unary Get.
    Get,
    /// MultiGet of [`BATCH`] keys.
    MultiGet,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Get => "cpu_get",
            Kind::MultiGet => "cpu_multi_get",
        }
    }

    fn target(self) -> f64 {
        match self {
            Kind::Get => GET_TARGET,
            Kind::MultiGet => MULTI_GET_TARGET,
        }
    }

    fn request(self) -> String {
        match self {
            Kind::Get => "Get".into(),
            Kind::MultiGet => format!("MultiGet({BATCH})"),
        }
    }
}

/// The version the reference names: static, so answering allocates nothing for it.
const REFERENCE_VERSION: VersionId = VersionId::from_static("v1");

/// The reference: every key found with the same fixed value, version `v1`. The
/// value is shared (`Bytes`), not copied, as tusk shares its mapped values, and so
/// is the version id, as tusk shares its loaded version's.
#[derive(Debug, Clone)]
struct FixedAnswer {
    value: Bytes,
}

#[tonic::async_trait]
impl Tusk for FixedAnswer {
    async fn get(&self, _request: Rpc<GetRequest>) -> Result<Response<GetResponse>, Status> {
        Ok(Response::new(GetResponse {
            found: true,
            value: self.value.clone(),
            version: REFERENCE_VERSION,
        }))
    }

    async fn multi_get(
        &self,
        request: Rpc<MultiGetRequest>,
    ) -> Result<Response<MultiGetResponse>, Status> {
        let entries = request
            .get_ref()
            .keys
            .iter()
            .map(|_| Entry {
                found: true,
                value: self.value.clone(),
            })
            .collect();
        Ok(Response::new(MultiGetResponse {
            entries,
            version: REFERENCE_VERSION,
        }))
    }

    async fn status(
        &self,
        _request: Rpc<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        Err(Status::unimplemented("the reference answers reads only"))
    }

    async fn topology(
        &self,
        _request: Rpc<TopologyRequest>,
    ) -> Result<Response<TopologyResponse>, Status> {
        Err(Status::unimplemented("the reference answers reads only"))
    }
}

/// The nanoseconds on CPU in the first field of a `schedstat` file.
pub fn schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// CPU time so far, in nanoseconds, of this process's live threads named `name`.
pub fn threads_cpu_ns(name: &str) -> FleetResult<u64> {
    let tasks = Path::new("/proc/self/task");
    let io = |source| FleetError::Io {
        what: "reading",
        path: tasks.to_path_buf(),
        source,
    };
    let mut total = 0;
    for task in std::fs::read_dir(tasks).map_err(io)? {
        let dir = task.map_err(io)?.path();
        // A thread may end between the listing and the reads: skip it.
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if comm.trim_end() != name {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(dir.join("schedstat")) {
            total += schedstat_ns(&stat).unwrap_or(0);
        }
    }
    Ok(total)
}

/// A runtime whose 2 worker threads (and blocking threads) are named `threads`.
fn server_runtime(scenario: &'static str, threads: &str) -> FleetResult<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(threads)
        .enable_all()
        .build()
        .map_err(|e| FleetError::setup(scenario, format!("starting the server runtime: {e}")))
}

/// One measured side of a round.
struct Measured {
    run: LoadRun,
    cpu_ns: u64,
}

impl Measured {
    fn per_request_us(&self) -> Option<f64> {
        (self.run.requests > 0).then(|| self.cpu_ns as f64 / 1e3 / self.run.requests as f64)
    }
}

/// Warms up, then runs the load for `duration` and reads the CPU time of the
/// server threads named `threads` around it.
async fn measure<F>(duration: Duration, threads: &str, op: F) -> FleetResult<Measured>
where
    F: Fn(usize, u64) -> Request + Send + Sync + Clone + 'static,
{
    let options = |duration| LoadOptions {
        tasks: node::TASKS,
        warmup: Duration::ZERO,
        duration,
    };
    closed_loop(options(WARMUP), op.clone()).await;
    let before = threads_cpu_ns(threads)?;
    let run = closed_loop(options(duration), op).await;
    let after = threads_cpu_ns(threads)?;
    Ok(Measured {
        run,
        cpu_ns: after.saturating_sub(before),
    })
}

/// The load of `kind` over `nodes`: every answer checked (found, bench-sized value).
fn load(kind: Kind, nodes: Vec<tusk_client::Node>) -> impl Fn(usize, u64) -> Request + Clone {
    let get = std::sync::Arc::new(node::tusk_get(nodes.clone(), KeySet::All(CPU_KEYS)));
    let multi = std::sync::Arc::new(tusk_multi_get(nodes, CPU_KEYS));
    move |task, i| match kind {
        Kind::Get => get(task, i),
        Kind::MultiGet => multi(task, i),
    }
}

/// Runs `kind`: [`ROUNDS`] rounds of tusk then the reference, each measured for
/// `duration` after a warm-up. Blocking: uses `runtime` for the load and a
/// runtime of its own for each server.
pub fn run(
    kind: Kind,
    duration: Duration,
    parent: &Path,
    runtime: &Runtime,
) -> FleetResult<ScenarioReport> {
    let scenario = kind.name();
    let (dir, catalog) = runtime.block_on(node::store_with_keys(parent, CPU_KEYS))?;
    let mut config = node::node_config(&catalog, &dir.path().join("data"), Duration::from_secs(5));
    // Nothing but requests on the server threads while measuring.
    config.scrub_interval = Duration::ZERO;
    let value = Bytes::from(vec![0x5a; VALUE_LEN]);

    let tusk_rt = server_runtime(scenario, TUSK_THREADS)?;
    let server = tusk_rt
        .block_on(Server::start(config))
        .map_err(|source| FleetError::Server {
            scenario,
            source: Box::new(source),
        })?;
    let tusk_nodes = runtime.block_on(node::connections(scenario, server.grpc_addr()))?;
    runtime.block_on(node::wait_version(scenario, &tusk_nodes[0], "v1"))?;

    let ref_rt = server_runtime(scenario, REFERENCE_THREADS)?;
    let reference = ref_rt.block_on(FloorServer::start(FixedAnswer { value }))?;
    let ref_nodes = runtime.block_on(node::connections(scenario, reference.addr))?;

    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    let mut details = Vec::new();
    let mut errors = 0;
    for round in 1..=ROUNDS {
        let tusk = runtime.block_on(measure(
            duration,
            TUSK_THREADS,
            load(kind, tusk_nodes.clone()),
        ))?;
        let bare = runtime.block_on(measure(
            duration,
            REFERENCE_THREADS,
            load(kind, ref_nodes.clone()),
        ))?;
        errors += tusk.run.errors + bare.run.errors;
        let r = ratio(tusk.per_request_us(), bare.per_request_us());
        details.push(format!(
            "round {round}: server CPU per {}: tusk {}, reference {} us; ratio {}",
            kind.request(),
            show_us(tusk.per_request_us()),
            show_us(bare.per_request_us()),
            r.map_or_else(|| "n/a".into(), |r| format!("{r:.3}"))
        ));
        rows.push(Row::of(
            format!("tusk {} r{round}", kind.request()),
            &tusk.run,
        ));
        rows.push(Row::of(
            format!("reference {} r{round}", kind.request()),
            &bare.run,
        ));
        ratios.extend(r);
    }
    runtime.block_on(async {
        drop(tusk_nodes);
        drop(ref_nodes);
    });
    tusk_rt.block_on(server.shutdown());
    ref_rt.block_on(reference.stop());
    tusk_rt.shutdown_background();
    ref_rt.shutdown_background();
    drop(dir);

    let r = median(&ratios);
    if errors > 0 {
        details.push(format!("{errors} errors: the verdict fails on any error"));
    }
    let want = Want::AtMost(kind.target());
    Ok(ScenarioReport {
        name: scenario,
        setup: format!(
            "server CPU per {} ({CPU_KEYS} keys in {} shards), tusk vs a fixed-answer reference, \
             {} tasks over {} connections, {ROUNDS} alternating rounds of {:.0} s",
            kind.request(),
            node::SHARDS,
            node::TASKS,
            node::CONNECTIONS,
            duration.as_secs_f64()
        ),
        rows,
        ratio_what: format!(
            "server CPU per {}: tusk / reference (median)",
            kind.request()
        ),
        ratio: r,
        want,
        verdict: verdict(r, want, errors == 0),
        details,
    })
}

fn show_us(us: Option<f64>) -> String {
    us.map_or_else(|| "n/a".into(), |us| format!("{us:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_gives_the_first_field() {
        assert_eq!(schedstat_ns("3439612 0 2\n"), Some(3_439_612));
        assert_eq!(schedstat_ns(""), None);
        assert_eq!(schedstat_ns("x 1 2"), None);
    }

    #[test]
    fn a_busy_named_thread_is_counted_and_others_are_not() {
        let name = "cpu-test-busy";
        let before = threads_cpu_ns(name).expect("reads /proc");
        assert_eq!(before, 0, "no thread has that name yet");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let busy = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let start = std::time::Instant::now();
                let mut x = 0u64;
                while start.elapsed() < Duration::from_millis(50) {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
                done_tx.send(()).expect("the test waits");
                // Stay alive until measured.
                let _ = rx.recv();
                x
            })
            .expect("spawns");
        done_rx.recv().expect("the thread ran");
        let spent = threads_cpu_ns(name).expect("reads /proc");
        assert!(spent >= 10_000_000, "{spent} ns for 50 ms of spinning");
        assert_eq!(threads_cpu_ns("no-such-thread").expect("reads /proc"), 0);
        drop(tx);
        busy.join().expect("joins");
    }
}
