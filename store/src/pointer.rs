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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRecord {
    /// Sequence number (1, 2, ...).
    pub seq: u64,
    /// What happened.
    pub action: Action,
    /// Version made current.
    pub version: String,
    /// Version that was current before, if any.
    pub previous: Option<String>,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
}
