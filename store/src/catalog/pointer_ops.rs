//! Moving `CURRENT`: activate and rollback. The one checked way to move it.
//!
//! The protocol (ARCHITECTURE.md, "Moving CURRENT", states it in full):
//! 1. Read `CURRENT` (seq `s`, ETag `e`) and the history. Refuse when the operator
//!    expected another current version.
//! 2. Create a history record at a fresh seq `n > s` (create-only) with `base = s`:
//!    the move's intent.
//! 3. Write `CURRENT` (naming `n`) conditioned on `e` (`UpdateIf(e)`, or create-only
//!    when there was none). This write is the move's one commit point.
//!
//! Of concurrent moves conditioned on the same `e`, exactly one rewrites `CURRENT`;
//! the others fail with a `Conflict` that names the winner. A record whose move
//! failed (lost the race, crashed, store error) is never on the chain from `CURRENT`
//! and nobody ever writes a `CURRENT` for it, so a move that reports failure never
//! takes effect later. After a failed write of `CURRENT` the move re-reads it and
//! reports success only if it names the move's own record.

use std::collections::BTreeSet;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::task::JoinSet;

use super::{Catalog, lineage};
use crate::keys::{current_key, history_key, history_prefix, validate_domain, validate_version};
use crate::version_id::rfc3339;
use crate::{Action, Current, ErrorKind, HistoryRecord, PutMode, Result, StoreError};

/// History records read at the same time.
const READ_CONCURRENCY: usize = 16;

/// Fresh sequence numbers tried when concurrent moves take the same one.
const SEQ_ATTEMPTS: u64 = 16;

/// Who moves `CURRENT`, why, and what they saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveOptions {
    /// Who (user@host, or the writer).
    pub actor: String,
    /// Why, recorded in the history.
    pub reason: String,
    /// The version the operator saw as current. When set, the move is refused with
    /// `Conflict` if `CURRENT` names another version (or none).
    pub expect_current: Option<String>,
    /// An activation that breaks the domain's write policy goes ahead only with
    /// this: the operator's reason, recorded in the history record with the rules
    /// it overrode. Rollbacks are not checked against the policy.
    pub policy_override: Option<String>,
    /// Waives only an empty version's min-records rule (recorded when used).
    pub allow_empty: bool,
}

impl MoveOptions {
    /// A move by `actor` for `reason`, conditioned on whatever `CURRENT` is read.
    pub fn new(actor: impl Into<String>, reason: impl Into<String>) -> Self {
        MoveOptions {
            actor: actor.into(),
            reason: reason.into(),
            ..MoveOptions::default()
        }
    }
}

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveOutcome {
    /// The version `CURRENT` named when the move was conditioned (`None`: none).
    pub from: Option<String>,
    /// `CURRENT` after the move.
    pub current: Current,
    /// False when nothing changed (the version was already current).
    pub moved: bool,
}

/// `CURRENT` (with its ETag) and every history record of a domain, read together.
#[derive(Debug, Clone)]
pub struct Lineage {
    domain: String,
    current: Option<(Current, String)>,
    records: Vec<HistoryRecord>,
}

impl Lineage {
    /// `CURRENT`, if any.
    pub fn current(&self) -> Option<&Current> {
        self.current.as_ref().map(|(c, _)| c)
    }

    /// Every history record, oldest first, including moves that never took effect.
    pub fn records(&self) -> &[HistoryRecord] {
        &self.records
    }

    /// The records of the moves that took effect, oldest first.
    pub fn chain(&self) -> Result<Vec<&HistoryRecord>> {
        let current_seq = self.current().map(|c| c.seq);
        lineage::chain(&self.records, current_seq).map_err(|e| {
            let (key, detail) = match e {
                lineage::ChainError::Missing { seq, named_by } if seq == named_by => (
                    current_key(&self.domain),
                    format!(
                        "CURRENT says seq {seq} but {} is missing",
                        history_key(&self.domain, seq)
                    ),
                ),
                lineage::ChainError::Missing { seq, named_by } => (
                    history_key(&self.domain, named_by),
                    format!("its base {} is missing", history_key(&self.domain, seq)),
                ),
                lineage::ChainError::BadBase { seq, base } => (
                    history_key(&self.domain, seq),
                    format!("base {base} is not below the record's own seq"),
                ),
            };
            StoreError::CorruptDocument { key, detail }
        })
    }

    /// Seqs of the records that took effect.
    pub fn effective_seqs(&self) -> Result<BTreeSet<u64>> {
        Ok(self.chain()?.iter().map(|r| r.seq).collect())
    }

    /// Versions marked rolled back (see `catalog/lineage.rs`).
    pub fn rolled_back(&self) -> Result<BTreeSet<String>> {
        Ok(lineage::rolled_back(&self.chain()?))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(value).expect("pointer documents always serialize"))
}

fn current_of(record: &HistoryRecord) -> Current {
    Current {
        version: record.version.clone(),
        seq: record.seq,
        updated_at: record.at.clone(),
        actor: record.actor.clone(),
        reason: record.reason.clone(),
    }
}

/// "v3 (seq 7, set by alice@h at 2026-...: bad join)".
fn describe(current: Option<&Current>) -> String {
    match current {
        Some(c) => format!(
            "{} (seq {}, set by {} at {}: {})",
            c.version, c.seq, c.actor, c.updated_at, c.reason
        ),
        None => "nothing (no CURRENT)".to_string(),
    }
}

impl Catalog {
    /// Reads `CURRENT` and then every history record of `domain`.
    pub async fn lineage(&self, domain: &str) -> Result<Lineage> {
        validate_domain(domain)?;
        let current = self.read_current(domain).await?;
        let records = self.read_records(domain).await?;
        Ok(Lineage {
            domain: domain.to_string(),
            current,
            records,
        })
    }

    /// Every history record of `domain`, oldest first, read a few at a time.
    pub(super) async fn read_records(&self, domain: &str) -> Result<Vec<HistoryRecord>> {
        let keys: Vec<String> = self
            .store
            .list(&history_prefix(domain))
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect();
        let mut records = Vec::with_capacity(keys.len());
        let mut reads = JoinSet::new();
        let mut keys = keys.into_iter();
        loop {
            while reads.len() < READ_CONCURRENCY {
                let Some(key) = keys.next() else { break };
                let catalog = self.clone();
                reads.spawn(async move {
                    let read = catalog.read_history_key(&key).await;
                    (key, read)
                });
            }
            let Some(joined) = reads.join_next().await else {
                break;
            };
            let (key, read) = joined.map_err(|e| StoreError::Io {
                path: history_prefix(domain),
                source: std::io::Error::other(e.to_string()),
            })?;
            let record = match read {
                Ok(record) => record,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if history_key(domain, record.seq) != key {
                return Err(StoreError::CorruptDocument {
                    key,
                    detail: format!("record says seq {}", record.seq),
                });
            }
            records.push(record);
        }
        records.sort_by_key(|r| r.seq);
        Ok(records)
    }

    /// Makes `version` current on behalf of `actor`; see [`Catalog::activate_with`].
    pub async fn activate(
        &self,
        domain: &str,
        version: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Current> {
        let options = MoveOptions::new(actor, reason);
        Ok(self.activate_with(domain, version, &options).await?.current)
    }

    /// Makes the committed `version` current (see the module docs for the protocol).
    /// Activating the version that is already current changes nothing and answers
    /// `moved: false`.
    pub async fn activate_with(
        &self,
        domain: &str,
        version: &str,
        options: &MoveOptions,
    ) -> Result<MoveOutcome> {
        validate_domain(domain)?;
        validate_version(version)?;
        self.manifest(domain, version).await?;
        let lineage = self.lineage(domain).await?;
        check_expected(domain, &lineage, options)?;
        if let Some(current) = lineage.current().filter(|c| c.version == version) {
            return Ok(MoveOutcome {
                from: Some(current.version.clone()),
                current: current.clone(),
                moved: false,
            });
        }
        let overridden = self
            .gate(domain, version, lineage.current(), options)
            .await?;
        let options = MoveOptions {
            policy_override: overridden,
            ..options.clone()
        };
        self.move_pointer(domain, version, Action::Activate, &options, &lineage)
            .await
    }

    /// Checks `version` against the domain's write policy, compared with the
    /// `current` the move is conditioned on. Passes when nothing blocks; returns what
    /// to record when an override was needed and given; refuses otherwise.
    async fn gate(
        &self,
        domain: &str,
        version: &str,
        current: Option<&Current>,
        options: &MoveOptions,
    ) -> Result<Option<String>> {
        let check = self
            .check_policy(domain, version, current.map(|c| c.version.as_str()))
            .await?;
        if check.is_ok() {
            return Ok(None);
        }
        let blocking = check.blocking(options.allow_empty);
        if blocking.is_empty() {
            return Ok(Some("empty version allowed (--allow-empty)".to_string()));
        }
        let broken: Vec<String> = blocking.iter().map(|v| v.to_string()).collect();
        match &options.policy_override {
            Some(why) => {
                tracing::warn!(domain, version, overridden = %broken.join("; "), reason = %why, "write policy overridden");
                Ok(Some(format!("{why} (overrode: {})", broken.join("; "))))
            }
            None => Err(StoreError::PolicyRefused {
                check: check.to_string(),
            }),
        }
    }

    /// Rolls back on behalf of `actor`; see [`Catalog::rollback_with`].
    pub async fn rollback(
        &self,
        domain: &str,
        to: Option<&str>,
        actor: &str,
        reason: &str,
    ) -> Result<Current> {
        let options = MoveOptions::new(actor, reason);
        Ok(self.rollback_with(domain, to, &options).await?.current)
    }

    /// Leaves the current version, marking it rolled back, for `to` or by default
    /// the newest older version that was once current and is not rolled back (see
    /// `catalog/lineage.rs`). With nothing to roll back to, the error is `Invalid`.
    pub async fn rollback_with(
        &self,
        domain: &str,
        to: Option<&str>,
        options: &MoveOptions,
    ) -> Result<MoveOutcome> {
        validate_domain(domain)?;
        if let Some(to) = to {
            validate_version(to)?;
        }
        let lineage = self.lineage(domain).await?;
        check_expected(domain, &lineage, options)?;
        let nothing = |detail: String| StoreError::Invalid {
            what: format!("rollback of {domain}"),
            detail: format!("nothing to roll back to: {detail}"),
        };
        let Some(current) = lineage.current() else {
            return Err(nothing(format!("{domain} has no CURRENT")));
        };
        let target = match to {
            Some(to) if to == current.version => {
                return Err(StoreError::Invalid {
                    what: format!("rollback of {domain}"),
                    detail: format!("{to} is already current"),
                });
            }
            Some(to) => to.to_string(),
            None => {
                let committed: BTreeSet<String> =
                    self.committed_ids(domain).await?.into_iter().collect();
                lineage::rollback_target(&lineage.chain()?, &committed, &current.version)
                    .ok_or_else(|| {
                        nothing(format!(
                            "no committed version older than {} was ever current without being rolled back",
                            current.version
                        ))
                    })?
            }
        };
        self.manifest(domain, &target).await?;
        self.move_pointer(domain, &target, Action::Rollback, options, &lineage)
            .await
    }

    /// Steps 2 and 3 of the protocol, conditioned on what `lineage` saw.
    async fn move_pointer(
        &self,
        domain: &str,
        version: &str,
        action: Action,
        options: &MoveOptions,
        lineage: &Lineage,
    ) -> Result<MoveOutcome> {
        let observed = lineage.current.as_ref();
        let base = observed.map_or(0, |(c, _)| c.seq);
        let from = observed.map(|(c, _)| c.version.clone());
        let mut record = HistoryRecord {
            seq: lineage::next_seq(&lineage.records, observed.map(|(c, _)| c.seq)),
            base: Some(base),
            action,
            version: version.to_string(),
            previous: from.clone(),
            at: rfc3339(SystemTime::now()),
            actor: options.actor.clone(),
            reason: options.reason.clone(),
            policy_override: options.policy_override.clone(),
        };
        self.create_record(domain, &mut record).await?;

        let current = current_of(&record);
        let mode = observed.map_or(PutMode::Create, |(_, etag)| PutMode::UpdateIf(etag.clone()));
        let written = self
            .store
            .put(&current_key(domain), to_json(&current), mode)
            .await;
        let outcome = MoveOutcome {
            from,
            current,
            moved: true,
        };
        let failure = match written {
            Ok(_) => return Ok(outcome),
            Err(e) => e,
        };
        // The write may have landed even though it reports failure (a retried PUT
        // whose first attempt succeeded): CURRENT naming this record settles it.
        let now = self.read_current(domain).await;
        match now {
            Ok(Some((now, _))) if now.seq == record.seq => Ok(outcome),
            Ok(now) if failure.kind() == ErrorKind::Conflict => Err(StoreError::Conflict {
                key: current_key(domain),
                detail: format!(
                    "CURRENT was moved to {} while this move to {version} was being made; this move did not take effect (history record {} stays as a move that never took effect). Re-read and retry if it is still wanted",
                    describe(now.as_ref().map(|(c, _)| c)),
                    record.seq
                ),
            }),
            Ok(now) => Err(StoreError::PointerMove {
                outcome: format!(
                    "the move of {domain} to {version} did not take effect: CURRENT still names {}",
                    describe(now.as_ref().map(|(c, _)| c))
                ),
                source: Box::new(failure),
            }),
            Err(reread) => Err(StoreError::PointerMove {
                outcome: format!(
                    "whether the move of {domain} to {version} took effect is unknown: CURRENT could not be read back ({reread}); check with `tusk versions`"
                ),
                source: Box::new(failure),
            }),
        }
    }

    /// Creates `record` create-only, at the next free seq when a concurrent move
    /// took its seq first (updating `record.seq`).
    async fn create_record(&self, domain: &str, record: &mut HistoryRecord) -> Result<()> {
        for _ in 0..SEQ_ATTEMPTS {
            let key = history_key(domain, record.seq);
            match self
                .store
                .put(&key, to_json(&*record), PutMode::Create)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Conflict => record.seq += 1,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            key: history_prefix(domain),
            detail: format!(
                "{SEQ_ATTEMPTS} history records were created by concurrent moves while this one tried; nothing was changed, retry"
            ),
        })
    }

    /// Versions of `domain` whose `MANIFEST.json` exists, sorted by id.
    pub(super) async fn committed_ids(&self, domain: &str) -> Result<Vec<String>> {
        let prefix = crate::keys::versions_prefix(domain);
        let mut committed = Vec::new();
        for object in self.store.list(&prefix).await? {
            let rest = &object.key[prefix.len()..];
            if let Some((version, "MANIFEST.json")) = rest.split_once('/')
                && validate_version(version).is_ok()
            {
                committed.push(version.to_string());
            }
        }
        committed.sort();
        Ok(committed)
    }
}

/// Refuses a move whose operator expected another current version.
fn check_expected(domain: &str, lineage: &Lineage, options: &MoveOptions) -> Result<()> {
    let Some(expected) = &options.expect_current else {
        return Ok(());
    };
    let current = lineage.current();
    if current.map(|c| c.version.as_str()) == Some(expected.as_str()) {
        return Ok(());
    }
    Err(StoreError::Conflict {
        key: current_key(domain),
        detail: format!(
            "expected CURRENT to be {expected}, but it is {}; nothing was changed",
            describe(current)
        ),
    })
}
