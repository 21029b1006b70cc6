//! `hedge`: a fleet of three real `tusk serve` processes (replication 2) under
//! routing-client Gets; in the middle of each run one node is stopped with
//! SIGSTOP for one second, then resumed (the fleet harness also resumes it when
//! dropped, so a panic cannot leave it stopped). One run without hedging, one
//! with `hedge(5ms)` (default budget: 5% of calls).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::runtime::Handle;
use tusk_client::Client;
use tusk_tests::fleet::LocalFleet;

use super::error::{FleetError, FleetResult};
use super::load::{LoadRun, closed_loop};
use super::node::{self, KEYS, KeySet, Request, hex};
use super::report::{Row, ScenarioReport};
use super::stats::{Want, ratio, verdict};
use super::version::{self, DOMAIN};
use crate::data::VALUE_LEN;

/// The hedge delay of the second run.
pub const HEDGE: Duration = Duration::from_millis(5);
/// How long the node is stopped.
const PAUSE: Duration = Duration::from_secs(1);
/// The node stopped (not the first: it is the client's seed).
const PAUSED_NODE: usize = 1;

/// The `tusk` binary the fleet runs: `$TUSK_BIN`, else `tusk` next to this
/// executable.
pub fn tusk_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TUSK_BIN") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join("tusk"))
}

/// A routing-client Get load: every key must be found with a bench-size value.
fn client_get(client: Client) -> impl Fn(usize, u64) -> Request + Send + Sync + 'static {
    let keys = KeySet::All(KEYS);
    move |task: usize, i: u64| -> Request {
        let client = client.clone();
        let k = keys.pick(task, i);
        Box::pin(async move {
            let got = client.get(DOMAIN, k).await.map_err(|e| e.to_string())?;
            match got.value {
                Some(v) if v.len() == VALUE_LEN => Ok(()),
                _ => Err(format!("key {} not answered right", hex(&k))),
            }
        })
    }
}

/// One run: load for `duration` through a fresh client; node [`PAUSED_NODE`]
/// stopped for [`PAUSE`] in the middle. Returns the run and the client's hedges.
fn one_run(
    fleet: &mut LocalFleet,
    handle: &Handle,
    duration: Duration,
    hedge: Option<Duration>,
) -> FleetResult<(LoadRun, u64)> {
    let mut builder = Client::builder().seeds(fleet.addrs());
    if let Some(delay) = hedge {
        builder = builder.hedge(delay);
    }
    let client = builder.build().map_err(|source| FleetError::Client {
        scenario: "hedge",
        what: "building the routing client".into(),
        source: Box::new(source),
    })?;
    let op = client_get(client.clone());
    let pause_at = node::WARMUP + duration.saturating_sub(PAUSE) / 2;
    let run = std::thread::scope(|scope| {
        let load = scope.spawn(|| handle.block_on(closed_loop(node::load(duration), op)));
        std::thread::sleep(pause_at);
        fleet.pause(PAUSED_NODE);
        std::thread::sleep(PAUSE);
        fleet.resume(PAUSED_NODE);
        load.join()
    })
    .map_err(|_| FleetError::setup("hedge", "the load thread panicked"))?;
    Ok((run, client.stats().hedges))
}

/// Runs the scenario: a 3-node fleet, one run without and one with hedging.
pub fn run(duration: Duration, parent: &Path, handle: &Handle) -> FleetResult<ScenarioReport> {
    let bin = tusk_binary().filter(|b| b.exists()).ok_or_else(|| {
        FleetError::setup(
            "hedge",
            "no tusk binary next to this one and no $TUSK_BIN: run `cargo build --release -p tusk-cli`",
        )
    })?;
    let dir = tempfile::Builder::new()
        .prefix("tusk-fleetbench-")
        .tempdir_in(parent)
        .map_err(|source| FleetError::Io {
            what: "creating a temp dir in",
            path: parent.to_path_buf(),
            source,
        })?;
    let store = dir.path().join("store");
    let catalog = version::open_store(&store)?;
    let build = dir.path().join("build-v1");
    node::mkdir(&build)?;
    let manifest = version::build(&build, "v1", KEYS, node::SHARDS, 1)?;
    handle.block_on(version::publish_and_activate(&catalog, &manifest, &build))?;

    let mut fleet = LocalFleet::start(dir.path(), &store, &[DOMAIN], 3, 2);
    fleet.wait_serving(DOMAIN, "v1", Duration::from_secs(60));
    let (plain, plain_hedges) = one_run(&mut fleet, handle, duration, None)?;
    let (hedged, hedges) = one_run(&mut fleet, handle, duration, Some(HEDGE))?;
    drop(fleet);

    let (p, h) = (plain.summary(), hedged.summary());
    let p99 = ratio(Some(h.p99_us as f64), Some(p.p99_us as f64));
    let p999 = ratio(Some(h.p999_us as f64), Some(p.p999_us as f64));
    Ok(ScenarioReport {
        name: "hedge",
        setup: format!(
            "3 tusk serve processes ({}), replication 2, {KEYS} keys in {} shards, routing client, {} tasks, node {PAUSED_NODE} SIGSTOPped for {:.0} s mid-run, {:.0} s each",
            bin.display(),
            node::SHARDS,
            node::TASKS,
            PAUSE.as_secs_f64(),
            duration.as_secs_f64()
        ),
        rows: vec![
            Row::of("no hedging", &plain),
            Row::of(format!("hedge({}ms)", HEDGE.as_millis()), &hedged),
        ],
        ratio_what: "hedged p99 / unhedged p99".into(),
        ratio: p99,
        want: Want::NoTarget,
        verdict: verdict(p99, Want::NoTarget, true),
        details: vec![format!(
            "hedged / unhedged p999 {}; hedges sent {hedges} (unhedged run {plain_hedges}); errors {} vs {}",
            p999.map_or_else(|| "n/a".into(), |x| format!("{x:.2}")),
            plain.errors,
            hedged.errors
        )],
    })
}
