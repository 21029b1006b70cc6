//! `lookup`: tusk shard vs. HashMap vs. sled, random hits and misses, plus build rates.
//! Run in release: `cargo run --release -p tusk-benches --bin lookup -- --help`.

use std::process::ExitCode;

use tusk_benches::{Config, USAGE, run};

fn main() -> ExitCode {
    let config = match Config::parse(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("lookup: {e}");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("lookup: warning: debug build, figures are meaningless; use --release");
    }
    // The table is printed size by size, so a run cut short keeps what it measured.
    let table = !config.json;
    let result = run(
        &config,
        &mut |line| eprintln!("{line}"),
        &mut |report| {
            if table {
                print!("{}", report.header_table());
            }
        },
        &mut |size| {
            if table {
                print!("{}", size.to_table());
            }
        },
    );
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lookup: {e}");
            return ExitCode::FAILURE;
        }
    };
    if config.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("lookup: cannot encode the report as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
