//! Policy records in the store: reading the one in force, its history, and setting a
//! new one conditioned on the seq the operator saw.

use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::Policy;
use crate::keys::{policy_key, policy_prefix, validate_domain};
use crate::version_id::rfc3339;
use crate::{Catalog, ErrorKind, PutMode, Result, StoreError};

/// Content of `<domain>/policy/<seq>.json`, created once and never rewritten. The
/// record with the highest seq is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRecord {
    /// Sequence number (1, 2, ...).
    pub seq: u64,
    /// When it was set, RFC 3339 UTC.
    pub set_at: String,
    /// Who set it (user@host).
    pub actor: String,
    /// Why.
    pub reason: String,
    /// The rules.
    pub policy: Policy,
}

/// The seq of a policy record key, if `key` is one.
fn seq_of(prefix: &str, key: &str) -> Option<u64> {
    let name = key.strip_prefix(prefix)?.strip_suffix(".json")?;
    (name.len() == 10 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

fn changed_concurrently(domain: &str, winner: &PolicyRecord) -> StoreError {
    StoreError::Conflict {
        key: policy_key(domain, winner.seq),
        detail: format!(
            "the policy of {domain} was changed concurrently: seq {} was set by {} at {} (reason: {:?}) to [{}]; re-read it and retry",
            winner.seq, winner.actor, winner.set_at, winner.reason, winner.policy
        ),
    }
}

impl Catalog {
    /// The policy record in force for `domain` (the highest seq), `None` when the
    /// domain never set one (then [`Policy::default`] applies). A corrupt newest
    /// record is an error, never skipped: a gate fails closed.
    pub async fn policy(&self, domain: &str) -> Result<Option<PolicyRecord>> {
        validate_domain(domain)?;
        let prefix = policy_prefix(domain);
        let newest = self
            .store()
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|o| seq_of(&prefix, &o.key))
            .max();
        match newest {
            Some(seq) => Ok(Some(self.read_policy(domain, seq).await?)),
            None => Ok(None),
        }
    }

    /// Every policy record of `domain`, oldest first.
    pub async fn policy_history(&self, domain: &str) -> Result<Vec<PolicyRecord>> {
        validate_domain(domain)?;
        let prefix = policy_prefix(domain);
        let mut seqs: Vec<u64> = self
            .store()
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|o| seq_of(&prefix, &o.key))
            .collect();
        seqs.sort_unstable();
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            out.push(self.read_policy(domain, seq).await?);
        }
        Ok(out)
    }

    async fn read_policy(&self, domain: &str, seq: u64) -> Result<PolicyRecord> {
        let key = policy_key(domain, seq);
        let got = self.store().get(&key).await?;
        let record: PolicyRecord =
            serde_json::from_slice(&got.bytes).map_err(|e| StoreError::CorruptDocument {
                key: key.clone(),
                detail: e.to_string(),
            })?;
        if record.seq != seq {
            return Err(StoreError::CorruptDocument {
                key,
                detail: format!("record says seq {}", record.seq),
            });
        }
        Ok(record)
    }

    /// Sets the policy of `domain`, conditioned on `seen_seq`, the seq of the record
    /// the caller read (0 when it saw none): creates record `seen_seq + 1`
    /// create-only. If another record was set since, the answer is `Conflict` naming
    /// who set what when, and nothing changes; of concurrent calls that saw the same
    /// seq exactly one wins. A `seen_seq` above the newest record is `Invalid`.
    pub async fn set_policy(
        &self,
        domain: &str,
        policy: &Policy,
        seen_seq: u64,
        actor: &str,
        reason: &str,
    ) -> Result<PolicyRecord> {
        validate_domain(domain)?;
        policy.validate(&format!("policy for {domain}"))?;
        match self.policy(domain).await? {
            Some(newest) if newest.seq > seen_seq => {
                return Err(changed_concurrently(domain, &newest));
            }
            Some(newest) if newest.seq < seen_seq => {
                return Err(stale_seq(domain, seen_seq, newest.seq));
            }
            None if seen_seq > 0 => return Err(stale_seq(domain, seen_seq, 0)),
            _ => {}
        }
        let record = PolicyRecord {
            seq: seen_seq + 1,
            set_at: rfc3339(SystemTime::now()),
            actor: actor.to_string(),
            reason: reason.to_string(),
            policy: policy.clone(),
        };
        let key = policy_key(domain, record.seq);
        let json = serde_json::to_vec_pretty(&record).expect("a policy record always serializes");
        match self
            .store()
            .put(&key, Bytes::from(json), PutMode::Create)
            .await
        {
            Ok(_) => Ok(record),
            Err(e) if e.kind() == ErrorKind::Conflict => {
                match self.read_policy(domain, record.seq).await {
                    Ok(winner) => Err(changed_concurrently(domain, &winner)),
                    Err(_) => Err(StoreError::Conflict {
                        key,
                        detail: format!(
                            "the policy of {domain} was changed concurrently; re-read it and retry"
                        ),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }
}

fn stale_seq(domain: &str, seen: u64, newest: u64) -> StoreError {
    StoreError::Invalid {
        what: format!("policy seq for {domain}"),
        detail: format!("{seen} was never set (the newest policy record is seq {newest})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_policy_record_keys_have_a_seq() {
        let p = "d/policy/";
        assert_eq!(seq_of(p, "d/policy/0000000003.json"), Some(3));
        assert_eq!(seq_of(p, "d/policy/3.json"), None);
        assert_eq!(seq_of(p, "d/policy/000000000x.json"), None);
        assert_eq!(seq_of(p, "d/policy/0000000003.json.bak"), None);
        assert_eq!(seq_of(p, "e/policy/0000000003.json"), None);
    }

    #[test]
    fn policy_summary_is_one_line() {
        let mut p = Policy::default();
        assert_eq!(
            p.to_string(),
            "min-records 1; max-shrink none; max-growth none; golden keys 0"
        );
        p.max_shrink.records = Some("20%".parse().unwrap());
        assert_eq!(
            p.to_string(),
            "min-records 1; max-shrink records 20%, bytes none; max-growth none; golden keys 0"
        );
    }
}
