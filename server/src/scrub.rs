//! The scrubber: one background task per server that re-reads the shards every
//! domain serves, one shard at a time, on a blocking thread, at no more than
//! `scrub_rate` bytes per second, and compares each with its manifest entry.
//!
//! What it checks, first things first:
//! 1. shards a read found damaged (the read path flags them and wakes it);
//! 2. shards opened from local disk and not yet re-read in this process (a restart
//!    trusts the check recorded by their download, so these come right after);
//! 3. every held shard, in a round every `scrub_interval` (none when off).
//!
//! A shard that no longer matches (size or CRC32) is reported (status, warn log,
//! `tusk_damaged_shards_total`) and handed to its domain's loader, which downloads
//! it into a new file and swaps in a version with that shard replaced. A shard a
//! read found damaged whose bytes still match the manifest gets the format's full
//! verification too: if that fails, the stored object itself is bad, which is
//! reported and not re-downloaded.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::domain::{Domain, ShardRef};
use crate::metrics::Metrics;

/// How the scrubber paces itself.
#[derive(Debug, Clone, Copy)]
pub struct ScrubSettings {
    /// Pause between two full rounds; `None`: no rounds (damaged reads and
    /// reopened shards are still checked).
    pub interval: Option<Duration>,
    /// Most bytes re-read per second.
    pub rate: u64,
}

/// Why a shard is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    DamagedRead,
    Reopened,
    Round,
}

/// The server's scrubber.
pub struct Scrubber {
    domains: Arc<Vec<Arc<Domain>>>,
    settings: ScrubSettings,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    cancel: Arc<AtomicBool>,
    /// `(domain index, shard)` reads found damaged, not yet checked.
    suspects: VecDeque<(usize, ShardRef)>,
    /// `(domain index, shard)` still to check in the current round.
    round: VecDeque<(usize, ShardRef)>,
    /// Shards whose stored object is bad: a download cannot help, do not recheck.
    bad_in_store: BTreeSet<(usize, ShardRef)>,
}

impl Scrubber {
    /// A scrubber over `domains`, woken through `wake`.
    pub fn new(
        domains: Arc<Vec<Arc<Domain>>>,
        settings: ScrubSettings,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> Scrubber {
        Scrubber {
            domains,
            settings,
            wake,
            metrics,
            cancel: Arc::new(AtomicBool::new(false)),
            suspects: VecDeque::new(),
            round: VecDeque::new(),
            bad_in_store: BTreeSet::new(),
        }
    }

    /// Runs until `shutdown` turns true; a pass in progress stops within one step.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let cancel = Arc::clone(&self.cancel);
        tokio::select! {
            _ = self.work() => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
        cancel.store(true, Ordering::Relaxed);
    }

    async fn work(&mut self) {
        let mut next_round = self.settings.interval.map(|i| Instant::now() + i);
        loop {
            while let Some((d, at, why)) = self.next() {
                self.check(d, at, why).await;
            }
            if next_round.is_some_and(|t| t <= Instant::now()) {
                self.start_round();
                while let Some((d, at, why)) = self.next() {
                    self.check(d, at, why).await;
                }
                next_round = self.settings.interval.map(|i| Instant::now() + i);
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = sleep_until(next_round) => {}
            }
        }
    }

    /// Queues every held shard of every domain for this round.
    fn start_round(&mut self) {
        for (d, domain) in self.domains.iter().enumerate() {
            let Some(held) = domain.held_full() else {
                continue;
            };
            for version in held.ids() {
                let Some(loaded) = held.find(&version) else {
                    continue;
                };
                for shard in loaded.held_shards() {
                    let at = ShardRef {
                        version: version.clone(),
                        shard: shard.entry().index,
                    };
                    self.round.push_back((d, at));
                }
            }
        }
    }

    /// The next shard to check: damaged reads, then reopened shards, then the
    /// round's queue.
    fn next(&mut self) -> Option<(usize, ShardRef, Why)> {
        for (d, domain) in self.domains.iter().enumerate() {
            self.suspects
                .extend(domain.take_suspects().into_iter().map(|at| (d, at)));
        }
        while let Some((d, at)) = self.suspects.pop_front() {
            if !self.bad_in_store.contains(&(d, at.clone())) {
                return Some((d, at, Why::DamagedRead));
            }
        }
        for (d, domain) in self.domains.iter().enumerate() {
            let Some(held) = domain.held_full() else {
                continue;
            };
            for version in held.ids() {
                let Some(loaded) = held.find(&version) else {
                    continue;
                };
                let unchecked = loaded.held_shards().find(|s| {
                    let at = ShardRef {
                        version: version.clone(),
                        shard: s.entry().index,
                    };
                    !s.is_checked() && !domain.repair_pending(&at)
                });
                if let Some(shard) = unchecked {
                    let at = ShardRef {
                        version,
                        shard: shard.entry().index,
                    };
                    return Some((d, at, Why::Reopened));
                }
            }
        }
        self.round.pop_front().map(|(d, at)| (d, at, Why::Round))
    }

    /// Re-reads one shard and acts on what it finds.
    async fn check(&mut self, d: usize, at: ShardRef, why: Why) {
        let domain = Arc::clone(&self.domains[d]);
        if domain.repair_pending(&at) {
            return;
        }
        let Some(shard) = domain
            .held_full()
            .and_then(|h| h.find(&at.version).and_then(|v| v.shard(at.shard).cloned()))
        else {
            return;
        };
        let (rate, cancel) = (self.settings.rate, Arc::clone(&self.cancel));
        let counter = self.metrics.scrubbed_bytes(domain.name());
        let pass = Arc::clone(&shard);
        let outcome = tokio::task::spawn_blocking(move || {
            let found = pass.scrub(rate, &cancel, &|n| {
                counter.inc_by(n);
            })?;
            // A damaged read on bytes that match the manifest: is the stored
            // object itself bad?
            let format = match (&found, why) {
                (None, Why::DamagedRead) => pass.verify_format().err(),
                _ => None,
            };
            Ok::<_, std::io::Error>((found, format))
        })
        .await;
        let name = domain.name();
        let object = &shard.entry().object;
        if matches!(outcome, Ok(Ok(_))) && !self.cancel.load(Ordering::Relaxed) {
            self.metrics.shard_scrubbed(name);
        }
        match outcome {
            Ok(Ok((None, None))) => {
                shard.mark_checked();
                tracing::debug!(domain = %name, version = %at.version, shard = at.shard, ?why, "shard scrubbed: matches its manifest");
            }
            Ok(Ok((Some(finding), _))) => {
                let message = format!(
                    "version {}: shard {} ({object}) at {} {}; downloading it again",
                    at.version,
                    at.shard,
                    shard.path().display(),
                    finding.describe(shard.entry())
                );
                tracing::warn!(domain = %name, version = %at.version, shard = at.shard, object = %object,
                    ?why, error = %message, "served shard no longer matches its manifest");
                self.metrics.shard_damaged(name);
                shard.mark_checked();
                domain.shard_damaged(at, message);
            }
            Ok(Ok((None, Some(e)))) => {
                let message = format!(
                    "version {}: shard {} ({object}) matches its manifest but fails verification: {e}; \
                     the stored object is bad (publish a new version)",
                    at.version, at.shard
                );
                tracing::warn!(domain = %name, version = %at.version, shard = at.shard, object = %object,
                    error = %message, "stored shard is bad");
                self.metrics.shard_damaged(name);
                shard.mark_checked();
                self.bad_in_store.insert((d, at));
                domain.stored_shard_bad(message);
            }
            Ok(Err(e)) => {
                // Not retried before the next round or damaged read.
                shard.mark_checked();
                tracing::warn!(domain = %name, version = %at.version, shard = at.shard, object = %object,
                    error = %e, "cannot scrub shard");
            }
            Err(e) => {
                shard.mark_checked();
                tracing::warn!(domain = %name, version = %at.version, shard = at.shard, error = %e,
                    "scrub task failed");
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
