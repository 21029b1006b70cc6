//! [`Catalog::check_policy`]: gathers a candidate's manifests and golden-key values
//! from the store, then runs the pure [`evaluate`].

use std::collections::BTreeMap;
use std::fmt;

use super::{GoldenKey, GoldenLookups, Policy, Violation, evaluate};
use crate::catalog::diff::open_local_shard;
use crate::keys::{shard_key, validate_domain};
use crate::{Catalog, Manifest, Result, StoreError};

/// The outcome of checking a candidate version against its domain's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyCheck {
    /// The domain.
    pub domain: String,
    /// The version checked.
    pub candidate: String,
    /// The version it was compared with (the current one the caller observed).
    pub current: Option<String>,
    /// Seq of the policy record applied; 0 when the domain has none and the default
    /// policy applied.
    pub policy_seq: u64,
    /// The policy applied.
    pub policy: Policy,
    /// Every rule broken, in the policy's order; empty when the candidate passes.
    pub violations: Vec<Violation>,
}

impl PolicyCheck {
    /// True when the candidate breaks no rule.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violations that still block activation when an empty candidate is
    /// explicitly allowed (`allow_empty`) or not: "allow empty" waives only the
    /// min-records violation of a candidate with zero records.
    pub fn blocking(&self, allow_empty: bool) -> Vec<&Violation> {
        self.violations
            .iter()
            .filter(|v| !(allow_empty && v.is_empty_candidate()))
            .collect()
    }
}

impl fmt::Display for PolicyCheck {
    /// One line: `pages version V passes policy seq 3` or `pages version V breaks
    /// policy seq 3: <violation>; <violation>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = match self.policy_seq {
            0 => "the default policy".to_string(),
            seq => format!("policy seq {seq}"),
        };
        write!(f, "{} version {} ", self.domain, self.candidate)?;
        if self.is_ok() {
            return write!(f, "passes {policy}");
        }
        write!(f, "breaks {policy}: ")?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl Catalog {
    /// Checks `candidate_version` of `domain` against the policy in force (the
    /// default when none was set), comparing sizes with `current_version`, the
    /// version the caller observed as current (`None`: no size rules). Golden keys
    /// are looked up in the candidate by downloading only the shards that hold them
    /// into a temp dir. Returns the violations; an error only when the check itself
    /// cannot run (missing version, store error, damaged shard).
    pub async fn check_policy(
        &self,
        domain: &str,
        candidate_version: &str,
        current_version: Option<&str>,
    ) -> Result<PolicyCheck> {
        validate_domain(domain)?;
        let (policy_seq, policy) = match self.policy(domain).await? {
            Some(record) => (record.seq, record.policy),
            None => (0, Policy::default()),
        };
        let candidate = self.manifest(domain, candidate_version).await?;
        let current = match current_version {
            Some(v) => Some(self.manifest(domain, v).await?),
            None => None,
        };
        let golden = self.golden_lookups(&candidate, &policy.golden).await?;
        let violations = evaluate(&policy, &candidate, current.as_ref(), &golden);
        Ok(PolicyCheck {
            domain: domain.to_string(),
            candidate: candidate_version.to_string(),
            current: current_version.map(str::to_string),
            policy_seq,
            policy,
            violations,
        })
    }

    /// What `manifest`'s version holds for each golden key: downloads each shard
    /// that holds one (by the partitioner), looks the keys up, deletes the copy.
    async fn golden_lookups(
        &self,
        manifest: &Manifest,
        golden: &[GoldenKey],
    ) -> Result<GoldenLookups> {
        let mut by_shard: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
        for g in golden {
            let shard = tusk_format::partition::shard_for(&g.key, manifest.shard_count);
            by_shard.entry(shard).or_default().push(g.key.clone());
        }
        let mut found = GoldenLookups::new();
        if by_shard.is_empty() {
            return Ok(found);
        }
        let scratch = tempfile::tempdir().map_err(|e| StoreError::io(std::env::temp_dir(), e))?;
        for (index, keys) in by_shard {
            let entry = &manifest.shards[index as usize];
            let dest = scratch.path().join(&entry.object);
            self.download_shard(manifest, index, &dest, &crate::DownloadOptions::default())
                .await?;
            let key = shard_key(&manifest.domain, &manifest.version, &entry.object);
            let path = dest.clone();
            let values = tokio::task::spawn_blocking(move || -> Result<GoldenLookups> {
                let shard = open_local_shard(&path, &key)?;
                let mut out = GoldenLookups::new();
                for k in keys {
                    let value = shard.get(&k).map_err(|e| StoreError::CorruptDocument {
                        key: key.clone(),
                        detail: e.to_string(),
                    })?;
                    out.insert(k, value.map(<[u8]>::to_vec));
                }
                Ok(out)
            })
            .await
            .map_err(|e| StoreError::io(&dest, std::io::Error::other(e)))??;
            found.extend(values);
            let _ = std::fs::remove_file(&dest);
        }
        Ok(found)
    }
}
