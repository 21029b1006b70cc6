//! What a domain's history says, as pure functions over records already read:
//! which moves took effect, which versions are rolled back, where a rollback goes,
//! which sequence number the next move takes.
//!
//! The rules (ARCHITECTURE.md, "Moving CURRENT"):
//! - The moves that took effect form the *chain*: the record `CURRENT` names, then
//!   the record its `base` names, and so on back to base 0. Every other record is a
//!   move that failed or lost a race; it never takes effect.
//! - A rollback marks the version it leaves as rolled back. Arriving at a version
//!   again (an explicit activate, or `rollback --to`) clears its mark.
//! - A rollback without a target goes to the newest version, by id, older than the
//!   one it leaves, that was current at some point of the chain, is not marked and is
//!   still committed. So repeated rollbacks walk back, never forward.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use crate::{Action, HistoryRecord};

/// Why the chain of records that took effect cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// `CURRENT` or a record's `base` names a record that is not there.
    Missing {
        /// The missing record's seq.
        seq: u64,
        /// The seq of the record (or `CURRENT`, when equal to `seq`) that names it.
        named_by: u64,
    },
    /// A record's `base` is not lower than its own seq.
    BadBase {
        /// The record.
        seq: u64,
        /// Its base.
        base: u64,
    },
}

/// The moves that took effect, oldest first: from the record `current_seq` names
/// back through `base` links. Empty when there is no `CURRENT`.
pub fn chain(
    records: &[HistoryRecord],
    current_seq: Option<u64>,
) -> Result<Vec<&HistoryRecord>, ChainError> {
    let by_seq: BTreeMap<u64, &HistoryRecord> = records.iter().map(|r| (r.seq, r)).collect();
    let mut out = Vec::new();
    let (mut seq, mut named_by) = match current_seq {
        Some(seq) => (seq, seq),
        None => return Ok(out),
    };
    while seq > 0 {
        let record = by_seq
            .get(&seq)
            .copied()
            .ok_or(ChainError::Missing { seq, named_by })?;
        let base = record.base_seq();
        if base >= seq {
            return Err(ChainError::BadBase { seq, base });
        }
        out.push(record);
        (named_by, seq) = (seq, base);
    }
    out.reverse();
    Ok(out)
}

/// Versions marked rolled back along `chain`: left by a rollback and not arrived at
/// since.
pub fn rolled_back(chain: &[&HistoryRecord]) -> BTreeSet<String> {
    let mut marked = BTreeSet::new();
    for record in chain {
        marked.remove(&record.version);
        if record.action == Action::Rollback
            && let Some(left) = &record.previous
            && *left != record.version
        {
            marked.insert(left.clone());
        }
    }
    marked
}

/// Where a rollback that leaves `current` goes when no target is given: the newest
/// version (by id) older than `current` that was current somewhere on `chain`, is
/// not rolled back, and is in `committed`. `None` when there is none.
pub fn rollback_target(
    chain: &[&HistoryRecord],
    committed: &BTreeSet<String>,
    current: &str,
) -> Option<String> {
    let marked = rolled_back(chain);
    chain
        .iter()
        .map(|r| r.version.as_str())
        .filter(|v| *v < current && !marked.contains(*v) && committed.contains(*v))
        .max()
        .map(str::to_string)
}

/// Versions that were current at some moment since `cutoff` (all of them when the
/// cutoff is unknown): walking `chain` back from the newest move, every version up
/// to and including the one that was current at `cutoff`. A record whose time
/// cannot be read counts as recent.
pub fn current_since(chain: &[&HistoryRecord], cutoff: Option<SystemTime>) -> BTreeSet<String> {
    let mut recent = BTreeSet::new();
    for record in chain.iter().rev() {
        recent.insert(record.version.clone());
        let at = humantime::parse_rfc3339_weak(&record.at).ok();
        if let (Some(at), Some(cutoff)) = (at, cutoff)
            && at < cutoff
        {
            break;
        }
    }
    recent
}

/// The seq of the next record: above every record there is (including records of
/// moves that never took effect) and above `CURRENT`'s.
pub fn next_seq(records: &[HistoryRecord], current_seq: Option<u64>) -> u64 {
    records
        .iter()
        .map(|r| r.seq)
        .chain(current_seq)
        .max()
        .unwrap_or(0)
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        seq: u64,
        base: u64,
        action: Action,
        version: &str,
        previous: Option<&str>,
    ) -> HistoryRecord {
        HistoryRecord {
            seq,
            base: Some(base),
            action,
            version: version.to_string(),
            previous: previous.map(str::to_string),
            at: "2026-12-01T00:00:00Z".to_string(),
            actor: "t".to_string(),
            reason: "r".to_string(),
            policy_override: None,
        }
    }

    fn act(seq: u64, base: u64, version: &str, previous: Option<&str>) -> HistoryRecord {
        rec(seq, base, Action::Activate, version, previous)
    }

    fn rb(seq: u64, base: u64, version: &str, previous: &str) -> HistoryRecord {
        rec(seq, base, Action::Rollback, version, Some(previous))
    }

    fn seqs(chain: &[&HistoryRecord]) -> Vec<u64> {
        chain.iter().map(|r| r.seq).collect()
    }

    fn set(versions: &[&str]) -> BTreeSet<String> {
        versions.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn chain_skips_records_that_never_took_effect() {
        // 3 failed after its record (CURRENT stayed at 2); 4 was made on top of 2.
        let records = vec![
            act(1, 0, "v1", None),
            act(2, 1, "v2", Some("v1")),
            act(3, 2, "v3", Some("v2")),
            rb(4, 2, "v1", "v2"),
        ];
        assert_eq!(seqs(&chain(&records, Some(4)).unwrap()), [1, 2, 4]);
        assert_eq!(seqs(&chain(&records, Some(2)).unwrap()), [1, 2]);
        assert!(chain(&records, None).unwrap().is_empty());
    }

    #[test]
    fn records_without_base_chain_to_the_previous_seq() {
        let mut old = act(2, 0, "v2", Some("v1"));
        old.base = None;
        let records = vec![act(1, 0, "v1", None), old];
        assert_eq!(seqs(&chain(&records, Some(2)).unwrap()), [1, 2]);
    }

    #[test]
    fn a_missing_or_looping_link_is_an_error() {
        let records = vec![act(2, 1, "v2", Some("v1"))];
        assert_eq!(
            chain(&records, Some(2)),
            Err(ChainError::Missing {
                seq: 1,
                named_by: 2
            })
        );
        assert_eq!(
            chain(&records, Some(5)),
            Err(ChainError::Missing {
                seq: 5,
                named_by: 5
            })
        );
        let looping = vec![act(3, 3, "v3", None)];
        assert_eq!(
            chain(&looping, Some(3)),
            Err(ChainError::BadBase { seq: 3, base: 3 })
        );
    }

    #[test]
    fn repeated_rollbacks_walk_back_never_forward() {
        let committed = set(&["v1", "v2", "v3"]);
        let mut records = vec![
            act(1, 0, "v1", None),
            act(2, 1, "v2", Some("v1")),
            act(3, 2, "v3", Some("v2")),
        ];
        let c = chain(&records, Some(3)).unwrap();
        assert_eq!(rollback_target(&c, &committed, "v3").as_deref(), Some("v2"));

        records.push(rb(4, 3, "v2", "v3"));
        let c = chain(&records, Some(4)).unwrap();
        assert_eq!(rolled_back(&c), set(&["v3"]));
        assert_eq!(rollback_target(&c, &committed, "v2").as_deref(), Some("v1"));

        records.push(rb(5, 4, "v1", "v2"));
        let c = chain(&records, Some(5)).unwrap();
        assert_eq!(rolled_back(&c), set(&["v2", "v3"]));
        assert_eq!(rollback_target(&c, &committed, "v1"), None);
    }

    #[test]
    fn arriving_again_clears_the_mark() {
        let committed = set(&["v1", "v2", "v3", "v4"]);
        let records = vec![
            act(1, 0, "v1", None),
            act(2, 1, "v2", Some("v1")),
            act(3, 2, "v3", Some("v2")),
            rb(4, 3, "v2", "v3"),
            act(5, 4, "v3", Some("v2")),
            act(6, 5, "v4", Some("v3")),
        ];
        let c = chain(&records, Some(6)).unwrap();
        assert!(rolled_back(&c).is_empty());
        assert_eq!(rollback_target(&c, &committed, "v4").as_deref(), Some("v3"));
    }

    #[test]
    fn the_target_was_current_once_and_is_still_committed() {
        // v2 was published but never activated; v1 was garbage-collected.
        let records = vec![
            act(1, 0, "v1", None),
            act(2, 1, "v0", Some("v1")),
            act(3, 2, "v3", Some("v0")),
        ];
        let c = chain(&records, Some(3)).unwrap();
        assert_eq!(
            rollback_target(&c, &set(&["v0", "v2", "v3"]), "v3").as_deref(),
            Some("v0")
        );
        assert_eq!(rollback_target(&c, &set(&["v2", "v3"]), "v3"), None);
    }

    #[test]
    fn a_move_outside_the_chain_does_not_mark() {
        // Record 3 (a rollback that failed) never took effect: v3 is not marked.
        let records = vec![
            act(1, 0, "v1", None),
            act(2, 1, "v3", Some("v1")),
            rb(3, 2, "v1", "v3"),
        ];
        let c = chain(&records, Some(2)).unwrap();
        assert!(rolled_back(&c).is_empty());
    }

    #[test]
    fn current_since_stops_at_the_version_current_at_the_cutoff() {
        let at = |seq: u64, version: &str, when: &str| HistoryRecord {
            at: when.to_string(),
            ..act(seq, seq - 1, version, None)
        };
        let records = vec![
            at(1, "v1", "2026-12-01T00:00:00Z"),
            at(2, "v2", "2026-12-01T01:00:00Z"),
            at(3, "v3", "2026-12-01T03:00:00Z"),
        ];
        let c = chain(&records, Some(3)).unwrap();
        let cutoff = humantime::parse_rfc3339("2026-12-01T02:00:00Z").unwrap();
        assert_eq!(current_since(&c, Some(cutoff)), set(&["v2", "v3"]));
        assert_eq!(current_since(&c, None), set(&["v1", "v2", "v3"]));
    }

    #[test]
    fn next_seq_is_above_every_record_and_current() {
        let records = vec![act(1, 0, "v1", None), act(7, 1, "v2", Some("v1"))];
        assert_eq!(next_seq(&records, Some(1)), 8);
        assert_eq!(next_seq(&[], None), 1);
        assert_eq!(next_seq(&[], Some(4)), 5);
    }
}
