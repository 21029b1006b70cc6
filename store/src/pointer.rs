//! `CURRENT` and the history records behind it.

use serde::{Deserialize, Serialize};

/// What moved the pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A new version was activated (by a writer or `tusk activate`).
    Activate,
    /// An operator rolled back.
    Rollback,
}

/// Content of `<domain>/CURRENT`: the version servers should serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Current {
    /// Version id to serve.
    pub version: String,
    /// Sequence number of the history record that set it.
    pub seq: u64,
    /// When, RFC 3339 UTC.
    pub updated_at: String,
    /// Who (user@host, or the writer).
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// Content of `<domain>/history/<seq>.json`, created once and never rewritten.
///
/// A record is the *intent* of a move; the move takes effect only when `CURRENT` is
/// rewritten to name the record's `seq`. The records that took effect form a chain
/// from the one `CURRENT` names back through `base` (see `catalog/lineage.rs`); a
/// record off that chain is a move that failed or lost a race, and never takes effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRecord {
    /// Sequence number (1, 2, ...): the record's key. Unique, not necessarily
    /// consecutive along the chain.
    pub seq: u64,
    /// The `seq` of the `CURRENT` this move was conditioned on (0: the domain had no
    /// `CURRENT`). Records written before this field existed mean `seq - 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<u64>,
    /// What happened. A rollback marks `previous` as rolled back.
    pub action: Action,
    /// Version made current.
    pub version: String,
    /// Version that was current before, if any (the one a rollback leaves).
    pub previous: Option<String>,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// Set when the move passed the domain's write policy only by an explicit
    /// override: the operator's reason for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_override: Option<String>,
}

impl HistoryRecord {
    /// The `seq` of the `CURRENT` this move was conditioned on (see `base`).
    pub fn base_seq(&self) -> u64 {
        self.base.unwrap_or(self.seq.saturating_sub(1))
    }
}
