//! `s3`: shard upload and download throughput against moto on 127.0.0.1, parallel
//! (`put_file`, `download_verified`) beside one plain GET per object.
//! Run in release: `cargo run --release -p tusk-benches --bin s3 -- --help`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tusk_benches::s3::{S3_USAGE, S3BenchConfig, S3Report, run};
use tusk_store::{ObjectStore, S3Store};
use tusk_tests::s3::{MOTO_VERSION, MotoServer, moto_dir};

/// Per-attempt limit: a plain GET of 1 GiB from moto takes far longer than the
/// store's default 30 s.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(900);
/// Total retry deadline of one store operation.
const RETRY_DEADLINE: Duration = Duration::from_secs(1800);

fn main() -> ExitCode {
    let config = match S3BenchConfig::parse(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{S3_USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("s3: {e}");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("s3: warning: debug build, figures are meaningless; use --release");
    }
    if !moto_dir().join("moto").join("server.py").exists() {
        eprintln!(
            "s3: moto {MOTO_VERSION} is not installed at {}: run scripts/install-moto",
            moto_dir().display()
        );
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("s3: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    eprintln!("starting moto {MOTO_VERSION} on 127.0.0.1");
    let moto = MotoServer::start();
    moto.create_bucket("tusk-bench");
    let mut s3 = moto.config("tusk-bench", "bench");
    s3.attempt_timeout = ATTEMPT_TIMEOUT;
    s3.retry_deadline = RETRY_DEADLINE;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(s3));
    let server = format!(
        "moto {MOTO_VERSION} (Python, one process) at {}",
        moto.endpoint()
    );
    let parent = config.dir.clone().unwrap_or_else(std::env::temp_dir);

    let table = !config.json;
    let mut header_printed = false;
    let result = runtime.block_on(run(
        &store,
        &config,
        &parent,
        &server,
        &mut |line| eprintln!("{line}"),
        &mut |workload| {
            if table {
                if !header_printed {
                    print!("{}", header(&config, &server));
                    header_printed = true;
                }
                print!("{}", workload.to_row());
            }
        },
    ));
    drop(moto);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("s3: {e}");
            return ExitCode::FAILURE;
        }
    };
    if config.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("s3: cannot encode the report as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The table header, printed before the first row so a run cut short keeps its rows.
fn header(config: &S3BenchConfig, server: &str) -> String {
    S3Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: tusk_benches::machine::Machine::detect(),
        server: server.to_string(),
        config: config.clone(),
        workloads: Vec::new(),
    }
    .header_table()
}
