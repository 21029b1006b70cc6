//! `tusk bench`: closed-loop read load through the routing client.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio::time::Instant;
use tusk_client::Client;

use crate::bench::keys::{KeyPicker, load_keys};
use crate::bench::record::{TaskRecorder, Totals, Windows, code_name};
use crate::bench::summary::{Summary, print_human, summarize};
use crate::output::{outln, print_json};
use crate::runtime::block_on;

/// Longest one attempt on one node may take before the client tries the next.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// Drive read load at a fleet and report throughput, errors and latency.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tusk bench --servers 10.0.0.1:7070,10.0.0.2:7070 --domain pages --keys keys.txt
  tusk bench --servers 127.0.0.1:7070 --domain pages --keys keys.txt \\
             --duration 10s --concurrency 16 --multi-get 100 --timeline
  tusk bench --servers 10.0.0.1:7070 --domain pages --keys keys.txt --hedge 5ms --json

Closed loop: --concurrency tasks each send requests back to back for --duration,
through the routing client (each key to a node holding its shard, failing over and,
with --hedge, hedging slow gets). Keys are drawn from the key file (one UTF-8 key per
line, blank lines skipped) by a fast generator seeded with --seed (each task draws
the same sequence in every run with that seed). With --multi-get N each request is one MultiGet of
N keys.

Prints requests, errors by gRPC code, throughput (requests/s; keys/s counts the keys
of successful requests), and latency percentiles p50/p90/p99/p99.9 over every request
(failed ones included), and the worst p99 of any one second. --timeline adds one line
per second (requests/s, errors, p99 of requests started in that second).

--json prints one object: requests, errors, errors_by_code {CODE: n}, error_samples
{CODE: message}, keys, elapsed_s, rps, keys_per_s, p50_us, p90_us, p99_us, p999_us,
max_us, worst_window_p99_us, and windows: [{second, requests, errors, rps, p99_us}]
with --timeline (else null).

Exit status: 0 when the run completed, whatever the error count; non-zero only for bad
arguments or a key file that cannot be read or has no key.")]
pub struct Args {
    /// Nodes to learn the fleet from, comma-separated (`A,B,C`).
    #[arg(
        long,
        required = true,
        value_name = "ADDR,ADDR,...",
        value_delimiter = ',',
        action = clap::ArgAction::Set
    )]
    servers: Vec<String>,
    #[command(flatten)]
    tls: super::TlsArgs,
    /// Domain to read.
    #[arg(long, env = "TUSK_DOMAIN", value_name = "NAME")]
    domain: String,
    /// File of keys to read, one UTF-8 key per line.
    #[arg(long, value_name = "FILE")]
    keys: PathBuf,
    /// How long to send requests.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    duration: Duration,
    /// Requests in flight at once (tasks sending back to back).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000), value_name = "N")]
    concurrency: u64,
    /// Send MultiGets of N keys instead of Gets.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000), value_name = "N")]
    multi_get: Option<u64>,
    /// Also send a Get to the next replica when the first has not answered after
    /// this long (within the client's hedge budget, 5 % of requests).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    hedge: Option<Duration>,
    /// Deadline of one request, failovers included (each attempt on one node gets
    /// at most 1s of it).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Seed of the key generator.
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// Print one line per second of the run.
    #[arg(long)]
    timeline: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The report plus an example message per error code.
#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    summary: Summary,
    error_samples: BTreeMap<&'static str, String>,
}

/// What one run does, shared by its tasks.
struct Plan {
    client: Client,
    domain: String,
    keys: Vec<Vec<u8>>,
    multi_get: Option<usize>,
    duration: Duration,
    concurrency: u64,
    seed: u64,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let servers = super::server_list(&args.servers, "--servers")?;
    anyhow::ensure!(
        !args.duration.is_zero(),
        "--duration must be longer than zero"
    );
    anyhow::ensure!(
        !args.timeout.is_zero(),
        "--timeout must be longer than zero"
    );
    let keys = load_keys(&args.keys)?;
    let mut builder = Client::builder()
        .seeds(&servers)
        .request_timeout(args.timeout)
        .attempt_timeout(args.timeout.min(ATTEMPT_TIMEOUT));
    if let Some(delay) = args.hedge {
        builder = builder.hedge(delay);
    }
    if let Some(tls) = args.tls.options(&servers)? {
        builder = builder.tls(tls);
    }
    let client = builder.build().context("setting up the client")?;
    let request = match args.multi_get {
        Some(n) => format!("MultiGets of {n} keys"),
        None => "Gets".to_string(),
    };
    eprintln!(
        "tusk bench: {} tasks sending {request} to domain {} for {} through {} ({} keys from {}{})",
        args.concurrency,
        args.domain,
        humantime::format_duration(args.duration),
        servers.join(","),
        keys.len(),
        args.keys.display(),
        args.hedge
            .map(|d| format!(", hedging after {}", humantime::format_duration(d)))
            .unwrap_or_default(),
    );
    let multi_get = args
        .multi_get
        .map(|n| usize::try_from(n).context("--multi-get is too large"))
        .transpose()?;
    let plan = Arc::new(Plan {
        client,
        domain: args.domain,
        keys,
        multi_get,
        duration: args.duration,
        concurrency: args.concurrency,
        seed: args.seed,
    });
    let (totals, windows, elapsed, samples) = block_on(drive(Arc::clone(&plan)))??;
    let keys_per_request = args.multi_get.unwrap_or(1);
    let summary = summarize(
        &totals,
        &windows,
        args.duration,
        elapsed,
        keys_per_request,
        args.timeline,
    );
    if args.json {
        return print_json(&Report {
            summary,
            error_samples: samples,
        });
    }
    print_human(&summary)?;
    for (code, message) in &samples {
        outln!("  {code}, e.g.: {message}")?;
    }
    Ok(())
}

type Samples = BTreeMap<&'static str, String>;

/// Runs the tasks to the end; returns the merged totals, windows, the time from the
/// first request to the last answer, and one error message per code.
async fn drive(plan: Arc<Plan>) -> anyhow::Result<(Totals, Windows, Duration, Samples)> {
    if let Err(e) = plan.client.refresh_topology().await {
        eprintln!("tusk bench: warning: cannot learn the fleet yet ({e}); starting anyway");
    }
    let windows = Arc::new(Mutex::new(Windows::default()));
    let start = Instant::now();
    let tasks: Vec<_> = (0..plan.concurrency)
        .map(|task| {
            let plan = Arc::clone(&plan);
            let windows = Arc::clone(&windows);
            tokio::spawn(async move { task_loop(&plan, task, start, &windows).await })
        })
        .collect();
    let mut totals = Totals::new();
    let mut samples = Samples::new();
    for task in tasks {
        let (t, s) = task.await.context("a load task failed")?;
        totals.merge(&t);
        for (code, message) in s {
            samples.entry(code).or_insert(message);
        }
    }
    let elapsed = start.elapsed();
    let windows = std::mem::take(&mut *windows.lock().unwrap_or_else(|e| e.into_inner()));
    Ok((totals, windows, elapsed, samples))
}

/// One task: requests back to back until the run's duration is over.
async fn task_loop(
    plan: &Plan,
    task: u64,
    start: Instant,
    windows: &Mutex<Windows>,
) -> (Totals, Samples) {
    let hand_over = |finished: Option<(u64, crate::bench::record::Window)>| {
        if let Some((second, window)) = finished {
            windows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(second, &window);
        }
    };
    let mut picker = KeyPicker::new(plan.seed, task);
    let mut recorder = TaskRecorder::default();
    let mut samples = Samples::new();
    let deadline = start + plan.duration;
    let keys = &plan.keys;
    loop {
        let began = Instant::now();
        if began >= deadline {
            break;
        }
        let result = match plan.multi_get {
            None => {
                let key = &keys[picker.index(keys.len())];
                plan.client.get(&plan.domain, key).await.map(drop)
            }
            Some(n) => {
                let batch: Vec<&[u8]> = (0..n)
                    .map(|_| keys[picker.index(keys.len())].as_slice())
                    .collect();
                plan.client.multi_get(&plan.domain, &batch).await.map(drop)
            }
        };
        let latency = began.elapsed();
        let outcome = result.map_err(|e| {
            let code = e.code();
            samples
                .entry(code_name(code))
                .or_insert_with(|| crate::output::with_causes(&e));
            code
        });
        hand_over(recorder.record(began - start, latency, outcome));
    }
    let (totals, last) = recorder.finish();
    hand_over(last);
    (totals, samples)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: super::Args,
    }

    const BASE: [&str; 7] = ["t", "--servers", "a:1,b:1", "--domain", "d", "--keys", "k"];

    fn parse(extra: &[&str]) -> Result<super::Args, clap::Error> {
        let argv: Vec<&str> = BASE.iter().chain(extra).copied().collect();
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    #[test]
    fn arguments_have_the_documented_defaults_and_limits() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.servers, ["a:1", "b:1"]);
        assert_eq!(args.duration, std::time::Duration::from_secs(30));
        assert_eq!(
            (args.concurrency, args.multi_get, args.hedge),
            (64, None, None)
        );
        let args = parse(&["--multi-get", "100", "--hedge", "5ms", "--duration", "1s"]).unwrap();
        assert_eq!(args.multi_get, Some(100));
        assert_eq!(args.hedge, Some(std::time::Duration::from_millis(5)));
        assert!(parse(&["--concurrency", "0"]).is_err());
        assert!(parse(&["--multi-get", "0"]).is_err());
        assert!(
            parse(&["--servers", "c:1"]).is_err(),
            "--servers is given once"
        );
        assert!(parse(&["--duration", "soon"]).is_err());
    }
}
