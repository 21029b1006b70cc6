//! `tusk`: publish, serve, query and operate tusk domains.
//!
//! One file per command under `cmd/`; each is thin glue over the library crates.

mod bench;
mod cmd;
mod fleet;
mod output;
mod runtime;
mod status_json;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// tusk: a read-only, sharded key-value store for batch-computed data.
///
/// A batch job publishes an immutable *version* of a *domain* to a *store* (a local
/// directory or S3) with `tusk write`; servers (`tusk serve`) download the
/// shards, verify and memory-map them, and answer gRPC gets, swapping to each new version
/// atomically. Operators list, activate and roll back versions with one command.
#[derive(Debug, Parser)]
#[command(
    name = "tusk",
    version = env!("TUSK_LONG_VERSION"),
    max_term_width = 100
)]
#[command(after_help = "\
Quick tour (local store, no cloud account):
  tusk write   --store ./store --domain pages --format tsv --input pages.tsv
  tusk serve   --store ./store --domain pages --listen 127.0.0.1:7070 --data-dir ./data
  tusk get     --server 127.0.0.1:7070 --domain pages some-key
  tusk versions --store ./store --domain pages
  tusk rollback --store ./store --domain pages
  tusk gc       --store ./store --domain pages --keep 5 --dry-run

Flags marked [env: TUSK_...] can come from the environment instead. -v/-vv or RUST_LOG
(e.g. RUST_LOG=debug) for detailed logs. Every command exits 0 on success and non-zero
with a one-line reason on stderr otherwise.")]
struct Cli {
    #[command(flatten)]
    global: runtime::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

// Each command's one-line `about` is set here for `tusk --help`; its long
// description (shown by `tusk COMMAND --help`) is the doc comment of its `Args`. A
// doc comment here would replace that long text.
#[derive(Debug, Subcommand)]
enum Command {
    #[command(
        about = "Build a new version from TSV, JSONL, CSV or Parquet input and publish it to a store"
    )]
    Write(cmd::write::Args),
    #[command(about = "Serve domains over gRPC, following each domain's CURRENT version")]
    Serve(cmd::serve::Args),
    #[command(about = "Look up keys on a running server")]
    Get(cmd::get::Args),
    #[command(about = "List the committed versions of a domain")]
    Versions(cmd::versions::Args),
    #[command(about = "Make a committed version current (servers swap to it on their next poll)")]
    Activate(cmd::activate::Args),
    #[command(about = "Move CURRENT back to the previous version (or to --to VERSION)")]
    Rollback(cmd::rollback::Args),
    #[command(about = "Show every activation and rollback of a domain")]
    History(cmd::history::Args),
    #[command(
        about = "Show what a running server (or, with --servers, a fleet) serves, per domain"
    )]
    Status(cmd::status::Args),
    #[command(about = "Show a shard file's header, counts and checks")]
    Inspect(cmd::inspect::Args),
    #[command(about = "Download and check every shard of a version against its manifest")]
    Verify(cmd::verify::Args),
    #[command(about = "Delete old versions (never the current one or the rollback target)")]
    Gc(cmd::gc::Args),
    #[command(
        about = "Show or change the write policy (min records, max shrink/growth, golden keys)"
    )]
    Policy(cmd::policy::Args),
    #[command(about = "Count records added, removed and changed between two versions")]
    Diff(cmd::diff::Args),
    #[command(about = "Drive read load at a fleet; report throughput, errors and latency")]
    Bench(cmd::bench::Args),
    #[command(about = "Print a shell completion script (bash, zsh, fish, powershell, elvish)")]
    Completions(cmd::completions::Args),
}

/// Parses the command line with `--color` (or NO_COLOR, which clap honours in
/// `auto`) applied to help and parse errors.
fn parse() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let color = runtime::color_from_args(&args).unwrap_or(clap::ColorChoice::Auto);
    let mut cli = Cli::command().color(color);
    let mut matches = cli
        .try_get_matches_from_mut(args)
        .unwrap_or_else(|err| err.exit());
    if let Some(("serve", serve)) = matches.subcommand()
        && let Some(serve_cmd) = cli.find_subcommand_mut("serve")
    {
        cmd::serve::refuse_flags_beside_config(serve_cmd, serve).unwrap_or_else(|err| err.exit());
    }
    Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|err| err.exit())
}

fn main() -> ExitCode {
    let cli = parse();
    runtime::init_logging(&cli.global);
    let result = match cli.command {
        Command::Write(args) => cmd::write::run(
            args,
            !cli.global.quiet,
            cli.global.log_format == runtime::LogFormat::Json,
        ),
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
        Command::Policy(args) => cmd::policy::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Completions(args) => cmd::completions::run(args, Cli::command()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout went away (`tusk get ... | head`): the output it
        // wanted was written, so this is a quiet success, as in ripgrep.
        Err(err) if output::is_stdout_closed(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tusk: error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error's context chain on one line, outermost first, skipping a cause whose
/// text the line already holds (library errors often include their source in their
/// own message).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use anyhow::Context;
    use clap::CommandFactory;

    #[test]
    fn errors_print_on_one_line_without_repeating_causes() {
        #[derive(Debug)]
        struct Inner;
        impl std::fmt::Display for Inner {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bucket \"b\" does not exist")
            }
        }
        impl std::error::Error for Inner {}
        #[derive(Debug)]
        struct Outer(Inner);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "publishing pages: {}", self.0)
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = Err::<(), _>(Outer(Inner))
            .context("writing\nto s3")
            .unwrap_err();
        assert_eq!(
            super::one_line(&err),
            "writing to s3: publishing pages: bucket \"b\" does not exist"
        );
        let plain = anyhow::anyhow!("disk full").context("copying shard-00001.tsk");
        assert_eq!(
            super::one_line(&plain),
            "copying shard-00001.tsk: disk full"
        );
    }

    #[test]
    fn subcommand_help_shows_the_long_description() {
        let mut root = super::Cli::command();
        let overview = root.render_long_help().to_string();
        assert!(
            overview.contains("Serve domains over gRPC, following each domain's CURRENT version"),
            "{overview}"
        );
        assert!(!overview.contains("On restart"), "{overview}");
        let mut root = super::Cli::command();
        root.build();
        for (name, long_text) in [
            (
                "serve",
                "On restart, versions already in the data dir are reopened",
            ),
            ("get", "One key uses Get; several use one MultiGet"),
            ("activate", "Writes a create-only history record"),
            ("write", "Input larger than `--memory` is spilled"),
            (
                "inspect",
                "Opens the file (constant-time header and footer checks)",
            ),
        ] {
            let sub = root
                .find_subcommand_mut(name)
                .unwrap_or_else(|| panic!("{name} is a subcommand"));
            let help = sub.render_long_help().to_string();
            assert!(help.contains(long_text), "tusk {name} --help:\n{help}");
        }
    }

    #[test]
    fn every_command_definition_is_consistent() {
        // Catches clashing flags and bad defaults in every subcommand at test time
        // instead of at a user's first run.
        super::Cli::command().debug_assert();
    }
}
