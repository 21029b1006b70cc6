//! What `tusk activate` and `tusk rollback` share: the flags that condition a move of
//! CURRENT, and how its outcome is printed.

use serde::Serialize;
use tusk_store::{MoveOptions, MoveOutcome};

use crate::output::{outln, print_json};
use crate::runtime::actor;

/// Flags that say what the operator saw before moving CURRENT.
#[derive(Debug, clap::Args)]
pub struct ExpectArgs {
    /// Move only if CURRENT is still VERSION (what you saw in `tusk versions`); if
    /// another operator moved it meanwhile, change nothing and say who did.
    #[arg(long, value_name = "VERSION")]
    pub expect_current: Option<String>,
}

impl ExpectArgs {
    /// The options of a move by this user for `reason`.
    pub fn options(&self, reason: &str) -> MoveOptions {
        MoveOptions {
            expect_current: self.expect_current.clone(),
            ..MoveOptions::new(actor(), reason)
        }
    }
}

/// Flags that pass a version the domain's write policy refuses (`tusk policy`).
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// Activate even though the version breaks the domain's write policy; needs
    /// `--reason`, which the history records with the rules overridden.
    #[arg(long)]
    pub force: bool,
    /// Allow an empty version (0 records) past the min-records rule; nothing else.
    #[arg(long)]
    pub allow_empty: bool,
}

impl GateArgs {
    /// Refuses `--force` without an explicit, non-empty `reason`; call before any
    /// work is done.
    pub fn check(&self, reason: Option<&str>) -> anyhow::Result<()> {
        if self.force && reason.is_none_or(|r| r.trim().is_empty()) {
            anyhow::bail!(
                "--force needs --reason: say why the write policy may be overridden (it is recorded in the history)"
            );
        }
        Ok(())
    }

    /// Sets the override fields of `options`; `--force` needs an explicit `reason`.
    pub fn apply(&self, options: &mut MoveOptions, reason: Option<&str>) -> anyhow::Result<()> {
        self.check(reason)?;
        options.allow_empty = self.allow_empty;
        if self.force {
            options.policy_override = reason.map(str::to_string);
        }
        Ok(())
    }
}

/// A move's outcome as `--json` prints it: the new CURRENT's fields (`version`,
/// `seq`, `updated_at`, `actor`, `reason`) and what the move did.
#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    current: &'a tusk_store::Current,
    domain: &'a str,
    moved: bool,
    from: Option<&'a str>,
    rolled_back: Option<&'a str>,
}

/// Prints what the move did: the versions it went between, as the move itself saw
/// them (never from a separate read). `rolled_back` names the version a rollback
/// marked.
pub fn print_outcome(
    domain: &str,
    outcome: &MoveOutcome,
    rolled_back: bool,
    json: bool,
) -> anyhow::Result<()> {
    let marked = outcome
        .from
        .as_deref()
        .filter(|_| rolled_back && outcome.moved);
    if json {
        return print_json(&Json {
            current: &outcome.current,
            domain,
            moved: outcome.moved,
            from: outcome.from.as_deref(),
            rolled_back: marked,
        });
    }
    let c = &outcome.current;
    if !outcome.moved {
        outln!(
            "{domain}: {} is already current (seq {}, set by {} at {}); nothing changed",
            c.version,
            c.seq,
            c.actor,
            c.updated_at
        )?;
        return Ok(());
    }
    let from = outcome.from.as_deref().unwrap_or("(none)");
    match marked {
        Some(left) => outln!(
            "{domain}: rolled back {from} -> {} (seq {}); {left} is marked rolled back",
            c.version,
            c.seq
        )?,
        None => outln!(
            "{domain}: CURRENT moved {from} -> {} (seq {})",
            c.version,
            c.seq
        )?,
    }
    Ok(())
}
