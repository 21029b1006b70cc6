//! `tusk`: publish, serve, query and operate tusk domains.
//!
//! One file per command under `cmd/`; each is thin glue over the library crates.

mod cmd;
mod output;
mod runtime;
mod status_json;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// tusk: a read-only, sharded key-value store for batch-computed data.
///
/// A batch job publishes an immutable *version* of a *domain* to a *store* (a local
/// directory or, later, S3) with `tusk write`; servers (`tusk serve`) download the
/// shards, verify and memory-map them, and answer gRPC gets, swapping to each new version
/// atomically. Operators list, activate and roll back versions with one command.
#[derive(Debug, Parser)]
#[command(name = "tusk", version, max_term_width = 100)]
#[command(after_help = "\
Quick tour (local store, no cloud account):
  tusk write   --store ./store --domain pages --format tsv --input pages.tsv
  tusk serve   --store ./store --domain pages --listen 127.0.0.1:7070 --data-dir ./data
  tusk get     --server 127.0.0.1:7070 --domain pages some-key
  tusk versions --store ./store --domain pages
  tusk rollback --store ./store --domain pages
  tusk gc       --store ./store --domain pages --keep 5 --dry-run

Set RUST_LOG=debug for detailed logs. Every command exits 0 on success and non-zero with
a one-line reason on stderr otherwise.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a new version from TSV/JSONL input and publish it to a store.
    Write(cmd::write::Args),
    /// Serve domains over gRPC, following each domain's CURRENT version.
    Serve(cmd::serve::Args),
    /// Look up keys on a running server.
    Get(cmd::get::Args),
    /// List the committed versions of a domain.
    Versions(cmd::versions::Args),
    /// Make a committed version current (servers swap to it on their next poll).
    Activate(cmd::activate::Args),
    /// Move CURRENT back to the previous version (or to --to VERSION).
    Rollback(cmd::rollback::Args),
    /// Show every activation and rollback of a domain.
    History(cmd::history::Args),
    /// Show what a running server serves, per domain.
    Status(cmd::status::Args),
    /// Show a shard file's header, counts and checks.
    Inspect(cmd::inspect::Args),
    /// Download and check every shard of a version against its manifest.
    Verify(cmd::verify::Args),
    /// Delete old versions (never the current one or the rollback target).
    Gc(cmd::gc::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    runtime::init_logging();
    let result = match cli.command {
        Command::Write(args) => cmd::write::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Get(args) => cmd::get::run(args),
        Command::Versions(args) => cmd::versions::run(args),
        Command::Activate(args) => cmd::activate::run(args),
        Command::Rollback(args) => cmd::rollback::run(args),
        Command::History(args) => cmd::history::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Gc(args) => cmd::gc::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the whole context chain, outermost first.
            eprintln!("tusk: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_definition_is_consistent() {
        // Catches clashing flags and bad defaults in every subcommand at test time
        // instead of at a user's first run.
        super::Cli::command().debug_assert();
    }
}
