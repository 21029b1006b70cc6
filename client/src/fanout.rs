//! A routed MultiGet: one request per node in parallel, failover per key, and
//! rounds until every key is answered from one version.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;
use tusk_format::partition::shard_for;

use crate::ClientError;
use crate::call::{Verdict, attempt, describe, note_failure, verdict};
use crate::client::{MultiGot, Shared, locate, shard_candidates};
use crate::error::Tried;
use crate::multi::{Decision, Slot, assemble, decide, group, pending};
use crate::topology::View;

/// Most rounds of a MultiGet before it gives up agreeing on a version.
pub(crate) const MAX_ROUNDS: usize = 3;

/// Reads `keys` of `domain` from one version: `version` when given, else the
/// version of the first part to answer (moved, if needed, as [`decide`] says).
pub(crate) async fn multi_get(
    shared: &Shared,
    view: &View,
    domain: &str,
    keys: &[Vec<u8>],
    version: Option<&str>,
    deadline: Instant,
) -> Result<MultiGot, ClientError> {
    let mut slots: Vec<Slot> = vec![None; keys.len()];
    let pinned = version.is_some();
    let mut target: Option<String> = version.map(str::to_string);
    let mut todo: Vec<usize> = (0..keys.len()).collect();
    let mut seen: Vec<String> = Vec::new();
    let mut last = String::from("no round ran");
    for _ in 0..MAX_ROUNDS {
        let cands = key_candidates(shared, view, domain, keys, target.as_deref());
        let round = Round {
            shared,
            view,
            domain,
            keys,
            cands: &cands,
            target: target.as_deref(),
            pinned,
            deadline,
        };
        let outcome = round.run(&todo, &mut slots).await?;
        for v in outcome
            .first
            .iter()
            .chain(&outcome.refusal)
            .chain(slots.iter().flatten().map(|(v, _)| v))
        {
            if !seen.contains(v) {
                seen.push(v.clone());
            }
        }
        let decision = decide(
            target.as_deref(),
            pinned,
            outcome.first.as_deref(),
            outcome.refusal.as_deref(),
            &slots,
        );
        match decision {
            Decision::Done(v) => {
                let values = assemble(slots, &v).expect("decide checked every slot");
                return Ok(MultiGot { values, version: v });
            }
            Decision::Retry(v) => {
                todo = pending(&slots, &v);
                last = format!(
                    "{} keys still answered from another version than {v}",
                    todo.len()
                );
                target = Some(v);
            }
            Decision::Fail(detail) => {
                return Err(ClientError::NoCommonVersion {
                    domain: domain.to_string(),
                    keys: keys.len(),
                    detail,
                    seen,
                });
            }
        }
    }
    Err(ClientError::NoCommonVersion {
        domain: domain.to_string(),
        keys: keys.len(),
        detail: format!("after {MAX_ROUNDS} rounds {last}"),
        seen,
    })
}

/// Per key, the nodes to try (indexes into the fleet), computed once per shard.
fn key_candidates(
    shared: &Shared,
    view: &View,
    domain: &str,
    keys: &[Vec<u8>],
    version: Option<&str>,
) -> Vec<Arc<[usize]>> {
    let located = locate(view, domain, version);
    let mut by_shard: HashMap<Option<u32>, Arc<[usize]>> = HashMap::new();
    keys.iter()
        .map(|key| {
            let shard = located.map(|(_, count)| shard_for(key, count.max(1)));
            Arc::clone(by_shard.entry(shard).or_insert_with(|| {
                shard_candidates(view, &shared.down, domain, located.map(|(v, _)| v), shard).into()
            }))
        })
        .collect()
}

/// What a round learned besides the values.
#[derive(Debug, Default)]
struct Outcome {
    /// The version of the round's first answer.
    first: Option<String>,
    /// The version a node serves that did not hold the round's target.
    refusal: Option<String>,
}

/// One round: every key of `todo` asked for `target`.
struct Round<'a> {
    shared: &'a Shared,
    view: &'a View,
    domain: &'a str,
    keys: &'a [Vec<u8>],
    cands: &'a [Arc<[usize]>],
    target: Option<&'a str>,
    pinned: bool,
    deadline: Instant,
}

impl Round<'_> {
    async fn run(&self, todo: &[usize], slots: &mut [Slot]) -> Result<Outcome, ClientError> {
        let n = self.keys.len();
        let nodes = self.view.fleet.nodes();
        let launch = |node: usize, ks: Vec<usize>, version: Option<String>| {
            let handle = self.shared.pool.node(&nodes[node]);
            let request: Vec<Vec<u8>> = ks.iter().map(|&k| self.keys[k].clone()).collect();
            let asked = version.clone();
            let domain = self.domain;
            async move {
                let result = attempt(handle, self.shared.attempt_timeout, |n| async move {
                    n.multi_get(domain, request, asked.as_deref()).await
                })
                .await;
                (node, ks, version, result)
            }
        };
        let mut outcome = Outcome::default();
        let mut next = vec![0usize; n];
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut key_errors: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut refused_by: HashMap<usize, usize> = HashMap::new();
        let mut jobs = FuturesUnordered::new();
        let target = self.target.map(str::to_string);
        for (node, ks) in group(todo.iter().map(|&k| (k, self.cands[k][0]))) {
            jobs.push(launch(node, ks, target.clone()));
        }
        let until = tokio::time::sleep_until(self.deadline);
        tokio::pin!(until);
        while !jobs.is_empty() {
            tokio::select! {
                biased;
                Some((node, ks, asked, result)) = jobs.next() => {
                    let addr = &nodes[node];
                    match result {
                        Ok(reply) => {
                            if reply.entries.len() != ks.len() {
                                return Err(self.refused(addr, &ks, tonic::Status::internal(format!(
                                    "answered {} entries for {} keys", reply.entries.len(), ks.len()
                                ))));
                            }
                            self.shared.down.answered(addr);
                            outcome.first.get_or_insert_with(|| reply.version.clone());
                            if asked.is_none() && target.is_some() {
                                outcome.refusal.get_or_insert_with(|| reply.version.clone());
                            }
                            for (k, entry) in ks.into_iter().zip(reply.entries) {
                                let value = entry.found.then(|| Bytes::from(entry.value));
                                slots[k] = Some((reply.version.clone(), value));
                            }
                        }
                        Err(status) => {
                            let verdict = verdict(&status);
                            note_failure(self.shared, addr, verdict);
                            let Verdict::Next { version_not_held, .. } = verdict else {
                                return Err(self.refused(addr, &ks, status));
                            };
                            errors.push((addr.clone(), describe(&status)));
                            let mut again = Vec::new();
                            let mut unpinned = Vec::new();
                            for k in ks {
                                key_errors.entry(k).or_default().push(errors.len() - 1);
                                if version_not_held {
                                    refused_by.entry(k).or_insert(node);
                                }
                                next[k] += 1;
                                if let Some(&other) = self.cands[k].get(next[k]) {
                                    again.push((k, other));
                                } else if let Some(&holder) = refused_by.get(&k)
                                    && target.is_some()
                                    && !self.pinned
                                {
                                    // No node holds the target for this key: ask the node
                                    // that refused it for what it serves.
                                    refused_by.remove(&k);
                                    unpinned.push((k, holder));
                                } else {
                                    let tried = key_errors[&k].iter().map(|&e| errors[e].clone()).collect();
                                    return Err(ClientError::Exhausted {
                                        method: "MultiGet",
                                        domain: self.domain.to_string(),
                                        keys: format!("key {k} of {n}"),
                                        tried: Tried(tried),
                                        timed_out: None,
                                    });
                                }
                            }
                            for (node, ks) in group(again) {
                                self.shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                                jobs.push(launch(node, ks, target.clone()));
                            }
                            for (node, ks) in group(unpinned) {
                                jobs.push(launch(node, ks, None));
                            }
                        }
                    }
                },
                () = &mut until => {
                    return Err(ClientError::Exhausted {
                        method: "MultiGet",
                        domain: self.domain.to_string(),
                        keys: format!("{n} keys"),
                        tried: Tried(errors),
                        timed_out: Some(self.shared.request_timeout),
                    });
                }
            }
        }
        Ok(outcome)
    }

    fn refused(&self, node: &str, ks: &[usize], status: tonic::Status) -> ClientError {
        ClientError::Refused {
            method: "MultiGet",
            domain: self.domain.to_string(),
            keys: format!(
                "{} keys from key {} of {}",
                ks.len(),
                ks.first().copied().unwrap_or_default(),
                self.keys.len()
            ),
            node: node.to_string(),
            status,
        }
    }
}
