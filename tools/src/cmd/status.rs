//! `tusk status`: what a server serves.

use anyhow::Context;

use super::ServerArgs;
use crate::output::print_json;
use crate::runtime::block_on;

/// Show what a running server serves: per domain, the current version, the versions
/// held locally, the state (loading / serving / failed) and the last error.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  tusk status --server 127.0.0.1:7070 --json")]
pub struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Print the status as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let status = block_on(async {
        let client = tusk_client::Node::connect(&args.server.server)
            .await
            .with_context(|| format!("connecting to {}", args.server.server))?;
        client
            .status()
            .await
            .with_context(|| format!("status of {}", args.server.server))
    })??;
    if args.json {
        return print_json(&crate::status_json::to_json(&status));
    }
    crate::status_json::print_human(&status);
    Ok(())
}
