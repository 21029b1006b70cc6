//! A routed MultiGet: one request per node in parallel, failover per key, and
//! rounds until every key is answered from one version.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;
use tusk_format::partition::shard_for;
use tusk_proto::VersionId;

use crate::ClientError;
use crate::call::{Verdict, attempt, describe, note_failure, verdict};
use crate::client::{MultiGot, Shared};
use crate::error::Tried;
use crate::multi::{Decision, Slot, assemble, decide, group, pending};
use crate::route::{locate, shard_candidates};
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
            if !seen.iter().any(|s| s == v) {
                seen.push(v.to_string());
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
                shared.stats.version_rounds.fetch_add(1, Ordering::Relaxed);
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
    first: Option<VersionId>,
    /// The version a node serves that did not hold the round's target.
    refusal: Option<VersionId>,
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
    /// Asks every key of `todo` (each key's next candidate after a failure) and
    /// records the answers in `slots`; ends once every key is answered. With a
    /// hedge delay, keys of parts still unanswered after it are also sent to
    /// their next candidates (once per round, budget permitting).
    async fn run(&self, todo: &[usize], slots: &mut [Slot]) -> Result<Outcome, ClientError> {
        let n = self.keys.len();
        let nodes = self.view.fleet.nodes();
        let launch = |id: usize, node: usize, ks: Vec<usize>, version: Option<String>| {
            let handle = self.shared.pool.node(&nodes[node]);
            let request: Vec<Vec<u8>> = ks.iter().map(|&k| self.keys[k].clone()).collect();
            let asked = version.clone();
            let domain = self.domain;
            async move {
                let result = attempt(handle, self.shared.attempt_timeout, |n| async move {
                    n.multi_get(domain, request, asked.as_deref()).await
                })
                .await;
                (id, node, ks, version, result)
            }
        };
        let mut outcome = Outcome::default();
        let mut next = vec![0usize; n];
        let mut done = vec![false; n];
        let mut in_flight = vec![0u32; n];
        let mut answered = 0usize;
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut last_code = None;
        let mut key_errors: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut refused_by: HashMap<usize, usize> = HashMap::new();
        // Jobs in flight by id: their keys.
        let mut running: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut jobs = FuturesUnordered::new();
        let mut ids = 0usize;
        let target = self.target.map(str::to_string);
        let mut spawn = |node: usize,
                         ks: Vec<usize>,
                         version: Option<String>,
                         in_flight: &mut [u32],
                         running: &mut HashMap<usize, Vec<usize>>| {
            ids += 1;
            for &k in &ks {
                in_flight[k] += 1;
            }
            running.insert(ids, ks.clone());
            launch(ids, node, ks, version)
        };
        for (node, ks) in group(
            todo.iter().map(|&k| (k, self.cands[k][0])),
            self.shared.max_batch,
        ) {
            jobs.push(spawn(
                node,
                ks,
                target.clone(),
                &mut in_flight,
                &mut running,
            ));
        }
        let hedge = self.shared.hedge;
        let hedge_timer = tokio::time::sleep_until(match hedge {
            Some(delay) => Instant::now() + delay,
            None => self.deadline,
        });
        tokio::pin!(hedge_timer);
        let mut armed = hedge.is_some();
        let until = tokio::time::sleep_until(self.deadline);
        tokio::pin!(until);
        while answered < todo.len() && !jobs.is_empty() {
            tokio::select! {
                biased;
                Some((id, node, ks, asked, result)) = jobs.next() => {
                    running.remove(&id);
                    for &k in &ks {
                        in_flight[k] -= 1;
                    }
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
                                if done[k] {
                                    continue;
                                }
                                let value = entry.found.then_some(entry.value);
                                slots[k] = Some((reply.version.clone(), value));
                                done[k] = true;
                                answered += 1;
                            }
                        }
                        Err(status) => {
                            let verdict = verdict(&status);
                            note_failure(self.shared, addr, verdict);
                            // Keys another attempt answered, or still may, need nothing.
                            let open: Vec<usize> =
                                ks.into_iter().filter(|&k| !done[k] && in_flight[k] == 0).collect();
                            let Verdict::Next { version_not_held, .. } = verdict else {
                                if open.is_empty() {
                                    continue;
                                }
                                return Err(self.refused(addr, &open, status));
                            };
                            errors.push((addr.clone(), describe(&status)));
                            last_code = Some(status.code());
                            let mut again = Vec::new();
                            let mut unpinned = Vec::new();
                            for k in open {
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
                                        last_code,
                                    });
                                }
                            }
                            for (node, ks) in group(again, self.shared.max_batch) {
                                self.shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                                jobs.push(spawn(node, ks, target.clone(), &mut in_flight, &mut running));
                            }
                            for (node, ks) in group(unpinned, self.shared.max_batch) {
                                jobs.push(spawn(node, ks, None, &mut in_flight, &mut running));
                            }
                        }
                    }
                },
                () = &mut hedge_timer, if armed => {
                    armed = false;
                    let mut waiting: Vec<usize> =
                        running.values().flatten().copied().filter(|&k| !done[k]).collect();
                    waiting.sort_unstable();
                    waiting.dedup();
                    let slow: Vec<(usize, usize)> = waiting
                        .into_iter()
                        .filter_map(|k| self.cands[k].get(next[k] + 1).map(|&other| (k, other)))
                        .collect();
                    let allowed = !slow.is_empty()
                        && self.shared.budget.lock().unwrap_or_else(|e| e.into_inner()).try_hedge();
                    if allowed {
                        self.shared.stats.hedges.fetch_add(1, Ordering::Relaxed);
                        for &(k, _) in &slow {
                            next[k] += 1;
                        }
                        for (node, ks) in group(slow, self.shared.max_batch) {
                            jobs.push(spawn(node, ks, target.clone(), &mut in_flight, &mut running));
                        }
                    }
                },
                () = &mut until => {
                    return Err(ClientError::Exhausted {
                        method: "MultiGet",
                        domain: self.domain.to_string(),
                        keys: format!("{} of {n} keys unanswered", todo.len() - answered),
                        tried: Tried(errors),
                        timed_out: Some(self.shared.request_timeout),
                        last_code,
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
