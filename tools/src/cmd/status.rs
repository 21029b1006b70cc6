//! `tusk status`: what a server serves, or with `--servers` what a fleet serves.

use std::time::Duration;

use anyhow::Context;

use super::ServerArgs;
use crate::fleet;
use crate::output::print_json;
use crate::runtime::block_on;

/// Show what a running server serves: per domain, the current version, the versions
/// held locally, the state (loading / serving / failed), downloads in progress (bytes,
/// percent, ETA), the last error, and the latest errors and moves. With
/// `--servers`, the same for every node of a fleet side by side, checked for
/// agreement (the flags are listed in `after_help`).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tusk status --server 127.0.0.1:7070 --json
  tusk status --servers 10.0.0.1:7070,10.0.0.2:7070,10.0.0.3:7070
  tusk status --servers 10.0.0.1:7070,10.0.0.2:7070 --timeout 500ms --json

Without --servers, --json prints the node's status document, the same one its
status page serves at http://METRICS_ADDR/status.json: {\"node\", \"domains\"}, each
domain with \"downloads\" [{\"version\", \"bytes_done\", \"bytes_total\", \"percent\",
\"shards_done\", \"shards_total\", \"started_at\", \"elapsed_seconds\",
\"eta_seconds\"}] and \"recent_errors\", \"moves\" [{\"at\", \"kind\", \"version\",
\"message\"}] (oldest first; moves are swap, rollback, drop, abandon).

With --servers, every node is asked at once (Status and Topology, each node within
--timeout). One table row per node and domain: state, version served, versions loaded,
shards held of the served version (held/total), the download in progress (version,
percent, ETA), placement fingerprint, last error.
Then the flags, one per line:
  error    unreachable           a node did not answer (with its error)
  error    fingerprint-mismatch  nodes disagree on the fleet (node list or
                                 replication); nodes running alone agree
  error    coverage-gap          shards of a served version that no reachable
                                 node holds
  warning  version-skew          nodes serve different versions of a domain
  warning  format-skew           nodes read different shard formats (mid-upgrade):
                                 write one that every node reads
  warning  topology-unavailable  a node answered Status but not Topology
  info     unlisted-node         a node's topology names a node not in --servers

Exit status: 0 when no flag is an error, 1 otherwise (a node down included), so
scripts and probes can run it as a check.

With --servers, --json prints one object:
  {\"nodes\": [{\"address\", \"reachable\", \"error\", \"name\", \"tusk_version\",
              \"shard_formats\", \"fingerprint\",
              \"fleet_nodes\", \"replication\", \"topology_error\",
              \"domains\": [{\"name\", \"state\", \"serving\", \"loaded_versions\",
                \"local_versions\", \"last_error\", \"failed_version\",
                \"shards\": [{\"version\", \"shard_count\", \"held\"}],
                \"downloading\": {\"version\", \"percent\", \"eta_seconds\"} or null}]}],
   \"flags\": [{\"severity\", \"kind\", \"message\", \"nodes\"}]}")]
pub struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Every node of a fleet, comma-separated (`A,B,C`): show them side by side and
    /// check that they agree. Replaces --server.
    #[arg(
        long,
        value_name = "ADDR,ADDR,...",
        value_delimiter = ',',
        action = clap::ArgAction::Set,
        conflicts_with = "server"
    )]
    servers: Option<Vec<String>>,
    /// How long each node may take to connect and answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Print the status as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(servers) = &args.servers {
        let servers = super::server_list(servers, "--servers")?;
        let tls = args.server.tls.options(&servers)?;
        return run_fleet(&servers, tls, args.timeout, args.json);
    }
    let options = tusk_client::NodeOptions {
        connect_timeout: args.timeout,
        request_timeout: Some(args.timeout),
        ..args.server.node_options()?
    };
    let status = block_on(async {
        let client = tusk_client::Node::connect_with(&args.server.server, options)
            .await
            .map_err(|e| super::connect_error(&args.server.server, e))?;
        client
            .status()
            .await
            .with_context(|| format!("status of {}", args.server.server))
    })??;
    if args.json {
        return print_json(&crate::status_json::to_json(&status));
    }
    crate::status_json::print_human(&status)?;
    Ok(())
}

fn run_fleet(
    servers: &[String],
    tls: Option<tusk_client::TlsOptions>,
    timeout: Duration,
    json: bool,
) -> anyhow::Result<()> {
    let nodes = block_on(fleet::collect(servers, tls, timeout))?;
    let flags = fleet::fleet_flags(&nodes);
    if json {
        print_json(&fleet::to_json(&nodes, &flags))?;
    } else {
        fleet::print_human(&nodes, &flags)?;
    }
    if fleet::has_errors(&flags) {
        let errors = flags
            .iter()
            .filter(|f| f.severity == fleet::Severity::Error)
            .count();
        anyhow::bail!(
            "the fleet check found {errors} error{} (see the flags above)",
            if errors == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: super::Args,
    }

    #[test]
    fn servers_are_comma_separated_given_once_and_exclude_server() {
        let cli = Cli::try_parse_from(["t", "--servers", "a:1, b:1,,a:1"]).unwrap();
        let given = cli.args.servers.unwrap();
        assert_eq!(
            crate::cmd::server_list(&given, "--servers").unwrap(),
            ["a:1", "b:1"]
        );
        assert!(Cli::try_parse_from(["t", "--servers", "a:1", "--servers", "b:1"]).is_err());
        assert!(Cli::try_parse_from(["t", "--servers", "a:1", "--server", "b:1"]).is_err());
        let err = crate::cmd::server_list(&[" ".to_string()], "--servers").unwrap_err();
        assert!(err.to_string().contains("--servers"), "{err}");
        let cli = Cli::try_parse_from(["t", "--server", "a:1"]).unwrap();
        assert_eq!(cli.args.timeout, std::time::Duration::from_secs(2));
        assert!(cli.args.servers.is_none());
    }
}
