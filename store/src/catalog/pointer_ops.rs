//! Moving `CURRENT`: activate and rollback.
//!
//! A move reads `CURRENT` (sequence `n`, ETag `e`), creates `history/<n+1>.json`
//! create-only, then writes `CURRENT` with `UpdateIf(e)` (or create-only when there
//! was none). Of two operators that read the same `CURRENT`, exactly one creates
//! record `n+1`; the other gets `Conflict`.
//!
//! `CURRENT` is derived entirely from its history record, so a move interrupted
//! between the two writes (a crashed operator) is repaired by the next one: it finds
//! record `n+1` already there while `CURRENT` still says `n`, writes the `CURRENT`
//! that record implies (identical bytes to what the first operator would write, and
//! still conditional on `e`), and answers `Conflict` so the caller re-reads and
//! retries on top of it.
//!
//! Choices: activating the version that is already current is allowed and recorded
//! as a new history record. A rollback without `to` goes to the `previous` field of
//! the record that set the current version, so two rollbacks in a row toggle between
//! two versions.

use std::time::SystemTime;

use bytes::Bytes;

use super::Catalog;
use crate::layout::{current_key, history_key, validate_domain, validate_version};
use crate::version_id::rfc3339;
use crate::{Action, Current, ErrorKind, HistoryRecord, PutMode, Result, StoreError};

/// What [`Catalog::move_pointer`] saw of `CURRENT` before moving it.
type Observed = Option<(Current, String)>;

fn conflict(domain: &str) -> StoreError {
    StoreError::Conflict {
        key: current_key(domain),
        detail: format!("another operator moved {domain}/CURRENT concurrently; re-read and retry"),
    }
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

fn to_json<T: serde::Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(value).expect("pointer documents always serialize"))
}

impl Catalog {
    /// Makes `version` current: creates history record `seq + 1` (create-only; a
    /// concurrent move makes this fail with `Conflict`), then rewrites `CURRENT`.
    /// The version must be committed. Activating the current version again is
    /// allowed and recorded.
    pub async fn activate(
        &self,
        domain: &str,
        version: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Current> {
        validate_domain(domain)?;
        validate_version(version)?;
        self.manifest(domain, version).await?;
        let observed = self.read_current(domain).await?;
        self.move_pointer(domain, version, Action::Activate, actor, reason, observed)
            .await
    }

    /// Rolls back to `to`, or by default to the version that was current before the
    /// current one (the `previous` field of the history record that set it).
    /// Recorded as a `rollback` history record. With nothing to roll back to, the
    /// error is `Invalid`.
    pub async fn rollback(
        &self,
        domain: &str,
        to: Option<&str>,
        actor: &str,
        reason: &str,
    ) -> Result<Current> {
        validate_domain(domain)?;
        let observed = self.read_current(domain).await?;
        let nothing = |detail: String| StoreError::Invalid {
            what: format!("rollback of {domain}"),
            detail: format!("nothing to roll back to: {detail}"),
        };
        let target = match (to, &observed) {
            (Some(to), _) => to.to_string(),
            (None, None) => return Err(nothing(format!("{domain} has no CURRENT"))),
            (None, Some((current, _))) => {
                let key = history_key(domain, current.seq);
                let record = self.read_history_key(&key).await.map_err(|e| match e {
                    StoreError::NotFound { .. } => StoreError::CorruptDocument {
                        key: current_key(domain),
                        detail: format!("CURRENT says seq {} but {key} is missing", current.seq),
                    },
                    other => other,
                })?;
                record.previous.ok_or_else(|| {
                    nothing(format!(
                        "{} (history record {}) has no previous version",
                        current.version, current.seq
                    ))
                })?
            }
        };
        validate_version(&target)?;
        self.manifest(domain, &target).await?;
        self.move_pointer(domain, &target, Action::Rollback, actor, reason, observed)
            .await
    }

    /// Creates the next history record, then writes `CURRENT` conditionally on what
    /// was `observed`.
    async fn move_pointer(
        &self,
        domain: &str,
        version: &str,
        action: Action,
        actor: &str,
        reason: &str,
        observed: Observed,
    ) -> Result<Current> {
        let (previous, etag) = match observed {
            Some((current, etag)) => (Some(current), Some(etag)),
            None => (None, None),
        };
        let seq = previous.as_ref().map_or(0, |c| c.seq) + 1;
        let hkey = history_key(domain, seq);

        // A record `seq` already there means a move is in flight or was interrupted.
        match self.read_history_key(&hkey).await {
            Ok(existing) => {
                tracing::info!(domain, seq, version = %existing.version, "completing a pointer move found half done");
                match self
                    .write_current(domain, &current_of(&existing), etag)
                    .await
                {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::Conflict => {}
                    Err(e) => return Err(e),
                }
                return Err(conflict(domain));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }

        let record = HistoryRecord {
            seq,
            action,
            version: version.to_string(),
            previous: previous.map(|c| c.version),
            at: rfc3339(SystemTime::now()),
            actor: actor.to_string(),
            reason: reason.to_string(),
        };
        match self
            .store
            .put(&hkey, to_json(&record), PutMode::Create)
            .await
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Conflict => return Err(conflict(domain)),
            Err(e) => return Err(e),
        }

        let current = current_of(&record);
        match self.write_current(domain, &current, etag).await {
            Ok(()) => Ok(current),
            Err(e) if e.kind() == ErrorKind::Conflict => {
                // Another operator may have completed this very move for us (see the
                // module docs): then CURRENT has reached our seq.
                match self.read_current(domain).await? {
                    Some((now, _)) if now.seq >= seq => Ok(current),
                    _ => Err(conflict(domain)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Writes `CURRENT`: replace-if-`etag`, or create-only when there was none.
    async fn write_current(
        &self,
        domain: &str,
        current: &Current,
        etag: Option<String>,
    ) -> Result<()> {
        let mode = etag.map_or(PutMode::Create, PutMode::UpdateIf);
        self.store
            .put(&current_key(domain), to_json(current), mode)
            .await
            .map(|_| ())
    }
}
