//! `fleet`: gRPC throughput and latency of tusk nodes beside their references
//! (an empty-answer gRPC floor, single Gets, a steady window, direct reads, no
//! hedging), in one process on 127.0.0.1; the `hedge` scenario runs real
//! `tusk serve` processes. Run in release:
//! `cargo build --release -p tusk-benches --bin fleet -p tusk-cli` then
//! `target/release/fleet --help`.

use std::process::ExitCode;

use tusk_benches::fleet::{FLEET_USAGE, FleetConfig, run};

fn main() -> ExitCode {
    let config = match FleetConfig::parse(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{FLEET_USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fleet: {e}");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("fleet: warning: debug build, figures are meaningless; use --release");
    }
    // The fleet harness finds `tusk` through $TUSK_BIN; point it at the binary
    // next to this one unless the caller chose one.
    if std::env::var_os("TUSK_BIN").is_none()
        && let Some(bin) = tusk_benches::fleet::hedge::tusk_binary()
    {
        // SAFETY: no other thread exists yet (the runtime starts below), so
        // nothing reads the environment concurrently.
        unsafe { std::env::set_var("TUSK_BIN", bin) };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fleet: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let parent = std::env::temp_dir();
    let table = !config.json;
    let result = run(
        &config,
        &runtime,
        &parent,
        &mut |line| eprintln!("{line}"),
        &mut |report| {
            if table {
                print!("{}", report.header_table());
            }
        },
        &mut |scenario| {
            if table {
                print!("{}", scenario.to_table());
            }
        },
    );
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fleet: {e}");
            return ExitCode::FAILURE;
        }
    };
    if config.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("fleet: cannot encode the report as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.summary());
    }
    ExitCode::SUCCESS
}
