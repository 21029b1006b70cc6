//! `tusk policy`: the write gates of a domain (set, show, history, check).

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::json;
use tusk_store::Catalog;
use tusk_store::policy::{Limits, Percent, Policy, PolicyCheck, PolicyRecord, parse_golden_tsv};

use super::StoreArgs;
use super::encoding::EncodingArg;
use crate::output::{StdoutError, display_bytes, outln, print_json, write_table};
use crate::runtime::{actor, block_on};

/// Show or change the write policy a new version must pass to become current.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
A policy holds: the fewest records a version may have (--min-records; 1 when no policy
was ever set, so an empty version is never activated by accident); how far records and
bytes may shrink or grow against the current version (--max-shrink, --max-growth); and
golden keys that must be present, optionally with exact values (--golden FILE).
Activation refuses a version that breaks it unless forced with a reason, which the
history records. Policies are kept in the store as <domain>/policy/<seq>.json, never
rewritten; the newest is in force.

Examples:
  tusk policy show    --store ./store --domain pages
  tusk policy set     --store ./store --domain pages --max-shrink 20% --reason 'size gate'
  tusk policy check   --store ./store --domain pages 20261121T213000Z-7f3a
  tusk policy history --store ./store --domain pages --json")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Change the policy: flags given replace those fields, the rest are kept.
    Set(SetArgs),
    /// Show the policy in force.
    Show(ShowArgs),
    /// List every policy ever set, oldest first.
    History(ShowArgs),
    /// Check a version against the policy without moving anything.
    Check(CheckArgs),
}

/// Change the policy of a domain.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Starts from the policy in force (or the default, with --reset) and changes only the
fields whose flags are given. The new policy is recorded as the next seq, conditioned on
the seq this command read (or --expect-seq): if someone else set the policy in between,
nothing changes and the error says who set what when.

Limits are percentages of the current version's size: --max-shrink 20% refuses a version
with more than 20% fewer records or bytes; --max-growth 300% refuses one more than four
times as large. Prefix records: or bytes: to set one of the two, repeat the flag for
both; `none` removes a limit:
  --max-shrink 20%                 records and bytes
  --max-shrink records:10% --max-shrink bytes:none

The golden-keys file has one key per line, KEY or KEY<TAB>VALUE (the key must hold
exactly VALUE; the line is split at the first tab). With --golden-encoding base64 (or hex) both
fields are base64, for binary keys and values. It replaces the golden keys in force.

Examples:
  tusk policy set --store ./store --domain pages --min-records 1000000 --max-shrink 20% \\
      --max-growth 300% --reason 'launch gates'
  tusk policy set --store ./store --domain pages --golden golden.tsv --reason 'home page must exist'
  tusk policy set --store ./store --domain pages --reset --reason 'back to defaults'")]
pub struct SetArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Fewest records a version may hold (0: no minimum).
    #[arg(long, value_name = "N")]
    min_records: Option<u64>,
    /// Largest shrink against the current version: `P%`, `records:P%`, `bytes:P%`,
    /// or `none`; repeatable.
    #[arg(long, value_name = "LIMIT", value_parser = parse_limit)]
    max_shrink: Vec<LimitArg>,
    /// Largest growth against the current version: `P%`, `records:P%`, `bytes:P%`,
    /// or `none`; repeatable.
    #[arg(long, value_name = "LIMIT", value_parser = parse_limit)]
    max_growth: Vec<LimitArg>,
    /// Golden keys: a TSV file of `KEY` or `KEY<TAB>VALUE` lines.
    #[arg(long, value_name = "FILE", conflicts_with = "no_golden")]
    golden: Option<PathBuf>,
    /// How the fields of the golden-keys file are written.
    #[arg(long, value_enum, default_value_t = EncodingArg::Utf8)]
    golden_encoding: EncodingArg,
    /// Remove every golden key.
    #[arg(long)]
    no_golden: bool,
    /// Start from the default policy instead of the one in force.
    #[arg(long)]
    reset: bool,
    /// Set only if the policy in force has this seq (0: none was ever set).
    #[arg(long, value_name = "SEQ")]
    expect_seq: Option<u64>,
    /// Why, recorded with the policy.
    #[arg(long, default_value = "tusk policy set")]
    reason: String,
    /// Print the new policy record as JSON.
    #[arg(long)]
    json: bool,
}

/// `--store`, `--domain` and `--json`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  tusk policy show --store ./store --domain pages --json

In JSON, golden keys and values are base64, as stored.")]
pub struct ShowArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Check a committed version against the policy in force, as activation would.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exits non-zero, listing each broken rule, if activation would refuse the version.

Examples:
  tusk policy check --store ./store --domain pages 20261121T213000Z-7f3a
  tusk policy check --store ./store --domain pages V --current none --json")]
pub struct CheckArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The version to check.
    version: String,
    /// Compare sizes with this version instead of the current one (`none`: no size
    /// rules).
    #[arg(long, value_name = "VERSION")]
    current: Option<String>,
    /// Do not count an empty version's min-records violation.
    #[arg(long)]
    allow_empty: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Which limits a `--max-shrink`/`--max-growth` value sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Both,
    Records,
    Bytes,
}

/// One `--max-shrink` / `--max-growth` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LimitArg {
    which: Which,
    limit: Option<Percent>,
}

fn parse_limit(text: &str) -> Result<LimitArg, String> {
    let (which, rest) = match text.split_once(':') {
        Some(("records", rest)) => (Which::Records, rest),
        Some(("bytes", rest)) => (Which::Bytes, rest),
        Some((other, _)) => {
            return Err(format!(
                "{other:?} is not records or bytes (write e.g. records:20%)"
            ));
        }
        None => (Which::Both, text),
    };
    let limit = match rest.trim() {
        "none" => None,
        p => Some(p.parse::<Percent>().map_err(|e| e.to_string())?),
    };
    Ok(LimitArg { which, limit })
}

/// Applies `args` in order to `limits`.
fn apply_limits(limits: &mut Limits, args: &[LimitArg]) {
    for arg in args {
        if arg.which != Which::Bytes {
            limits.records = arg.limit;
        }
        if arg.which != Which::Records {
            limits.bytes = arg.limit;
        }
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Set(a) => block_on(set(a))?,
        Command::Show(a) => block_on(show(a))?,
        Command::History(a) => block_on(history(a))?,
        Command::Check(a) => block_on(check(a))?,
    }
}

async fn set(args: SetArgs) -> anyhow::Result<()> {
    let catalog = args.store.catalog()?;
    let domain = &args.store.domain;
    let in_force = catalog
        .policy(domain)
        .await
        .with_context(|| format!("reading the policy of {domain}"))?;
    let seen = in_force.as_ref().map_or(0, |r| r.seq);
    let mut policy = match (&in_force, args.reset) {
        (Some(r), false) => r.policy.clone(),
        _ => Policy::default(),
    };
    if let Some(n) = args.min_records {
        policy.min_records = n;
    }
    apply_limits(&mut policy.max_shrink, &args.max_shrink);
    apply_limits(&mut policy.max_growth, &args.max_growth);
    if args.no_golden {
        policy.golden.clear();
    }
    if let Some(path) = &args.golden {
        let content = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let encoding = args.golden_encoding.into();
        policy.golden = parse_golden_tsv(&path.display().to_string(), &content, encoding)?;
    }
    let expect = args.expect_seq.unwrap_or(seen);
    let record = catalog
        .set_policy(domain, &policy, expect, &actor(), &args.reason)
        .await
        .with_context(|| format!("setting the policy of {domain}"))?;
    if args.json {
        return print_json(&record);
    }
    outln!("{domain}: policy seq {} set: {}", record.seq, record.policy)?;
    Ok(())
}

async fn show(args: ShowArgs) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog().await?;
    let domain = &args.store.domain;
    let record = read_policy(&catalog, domain).await?;
    if args.json {
        let value = match &record {
            Some(r) => json!({ "domain": domain, "default": false, "seq": r.seq,
                "set_at": r.set_at, "actor": r.actor, "reason": r.reason, "policy": r.policy }),
            None => json!({ "domain": domain, "default": true, "seq": 0,
                "set_at": null, "actor": null, "reason": null, "policy": Policy::default() }),
        };
        return print_json(&value);
    }
    let policy = match &record {
        Some(r) => {
            outln!(
                "policy of {domain}: seq {}, set {} by {} (reason: {})",
                r.seq,
                r.set_at,
                r.actor,
                r.reason
            )?;
            &r.policy
        }
        None => {
            outln!("{domain} has no policy set; the default applies")?;
            &Policy::default()
        }
    };
    print_policy(policy)?;
    Ok(())
}

fn print_policy(policy: &Policy) -> Result<(), StdoutError> {
    let limits = |l: &Limits| {
        let show = |p: Option<Percent>| p.map_or_else(|| "none".to_string(), |p| p.to_string());
        format!("records {}, bytes {}", show(l.records), show(l.bytes))
    };
    outln!("  min-records  {}", policy.min_records)?;
    outln!("  max-shrink   {}", limits(&policy.max_shrink))?;
    outln!("  max-growth   {}", limits(&policy.max_growth))?;
    outln!("  golden keys  {}", policy.golden.len())?;
    for g in &policy.golden {
        match &g.value {
            Some(v) => outln!("    {} = {}", display_bytes(&g.key), display_bytes(v))?,
            None => outln!("    {}", display_bytes(&g.key))?,
        }
    }
    Ok(())
}

async fn read_policy(catalog: &Catalog, domain: &str) -> anyhow::Result<Option<PolicyRecord>> {
    catalog
        .policy(domain)
        .await
        .with_context(|| format!("reading the policy of {domain} in {}", catalog.url()))
}

async fn history(args: ShowArgs) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog().await?;
    let domain = &args.store.domain;
    let records = catalog
        .policy_history(domain)
        .await
        .with_context(|| format!("reading the policy history of {domain}"))?;
    if args.json {
        return print_json(&records);
    }
    if records.is_empty() {
        outln!("{domain} has no policy history (the default policy applies)")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.seq.to_string(),
                r.set_at.clone(),
                r.actor.clone(),
                r.reason.clone(),
                r.policy.to_string(),
            ]
        })
        .collect();
    write_table(&["SEQ", "SET AT", "ACTOR", "REASON", "POLICY"], &rows)?;
    Ok(())
}

async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let catalog = args.store.domain_catalog().await?;
    let domain = &args.store.domain;
    let current = match args.current.as_deref() {
        Some("none") => None,
        Some(v) => Some(v.to_string()),
        None => catalog
            .current(domain)
            .await
            .with_context(|| format!("reading CURRENT of {domain}"))?
            .map(|c| c.version),
    };
    let result = catalog
        .check_policy(domain, &args.version, current.as_deref())
        .await
        .with_context(|| {
            format!(
                "checking {domain} version {} against its policy",
                args.version
            )
        })?;
    let blocking = result.blocking(args.allow_empty);
    if args.json {
        print_json(&check_json(&result, blocking.len()))?;
    } else if result.is_ok() {
        outln!("{result}")?;
    } else {
        for v in &result.violations {
            let waived = if blocking.contains(&v) {
                ""
            } else {
                " (allowed: --allow-empty)"
            };
            outln!("{}: {v}{waived}", v.rule())?;
        }
    }
    if !blocking.is_empty() {
        bail!(
            "{domain} version {} breaks {} rule(s) of {}",
            args.version,
            blocking.len(),
            match result.policy_seq {
                0 => "the default policy".to_string(),
                seq => format!("policy seq {seq}"),
            }
        );
    }
    Ok(())
}

fn check_json(result: &PolicyCheck, blocking: usize) -> serde_json::Value {
    let violations: Vec<serde_json::Value> = result
        .violations
        .iter()
        .map(|v| json!({ "rule": v.rule().to_string(), "message": v.to_string() }))
        .collect();
    json!({
        "domain": result.domain,
        "version": result.candidate,
        "current": result.current,
        "policy_seq": result.policy_seq,
        "ok": blocking == 0,
        "violations": violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(s: &str) -> Option<Percent> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn limit_values_name_records_bytes_or_both() {
        assert_eq!(
            parse_limit("20%"),
            Ok(LimitArg {
                which: Which::Both,
                limit: pct("20%")
            })
        );
        assert_eq!(
            parse_limit("bytes:none"),
            Ok(LimitArg {
                which: Which::Bytes,
                limit: None
            })
        );
        assert!(parse_limit("rows:5%").unwrap_err().contains("\"rows\""));
        assert!(
            parse_limit("records:-1")
                .unwrap_err()
                .contains("not a percentage")
        );
    }

    #[test]
    fn limits_apply_in_order() {
        let mut l = Limits {
            records: pct("1%"),
            bytes: pct("2%"),
        };
        let args = [
            parse_limit("30%").unwrap(),
            parse_limit("records:none").unwrap(),
        ];
        apply_limits(&mut l, &args);
        assert_eq!(
            l,
            Limits {
                records: None,
                bytes: pct("30%")
            }
        );
        apply_limits(&mut l, &[]);
        assert_eq!(l.bytes, pct("30%"), "no flag keeps the value in force");
    }
}
