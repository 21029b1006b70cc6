//! The collector: checks each record, routes it to its shard's buffer, and spills
//! sorted runs to disk when the buffered bytes exceed the memory budget.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::error::{Result, WriteError};
use crate::merge::{Merge, Source, drain_deduped};
use crate::options::{OnDuplicate, WriteOptions};
use crate::pool::Pool;
use crate::progress::{ProgressEvent, ProgressFn};
use crate::record::{InputRecord, Names, Origin};
use crate::run::RunWriter;

/// Records gathered per shard: the in-memory remainder and the spilled runs.
pub(crate) struct Collected {
    pub(crate) names: Names,
    pub(crate) buffers: Vec<Vec<InputRecord>>,
    pub(crate) runs: Vec<Vec<PathBuf>>,
    pub(crate) spilled_runs: u64,
    pub(crate) dropped: u64,
}

/// Partitions records into per-shard buffers under a memory budget.
pub(crate) struct Collector {
    pool: Pool,
    names: Names,
    shards: u32,
    /// `Some(i)` when only shard `i` is collected (one buffer): a key of another
    /// shard is an error.
    only: Option<u32>,
    budget: u64,
    policy: OnDuplicate,
    max_value_len: u64,
    run_dir: PathBuf,
    buffers: Vec<Vec<InputRecord>>,
    buffered: u64,
    runs: Vec<Vec<PathBuf>>,
    spills: u64,
    spilled_runs: u64,
    dropped: u64,
    progress: Option<ProgressFn>,
}

impl Collector {
    /// Collects the records of every shard of `opts.shards`.
    pub(crate) fn new(
        opts: &WriteOptions,
        names: Names,
        pool: &Pool,
        run_dir: PathBuf,
        progress: Option<ProgressFn>,
    ) -> Self {
        Self::with_target(opts, None, names, pool, run_dir, progress)
    }

    /// Collects the records of shard `index` of `opts.shards` only.
    pub(crate) fn one_shard(
        opts: &WriteOptions,
        index: u32,
        pool: &Pool,
        run_dir: PathBuf,
    ) -> Self {
        Self::with_target(opts, Some(index), Names::default(), pool, run_dir, None)
    }

    fn with_target(
        opts: &WriteOptions,
        only: Option<u32>,
        names: Names,
        pool: &Pool,
        run_dir: PathBuf,
        progress: Option<ProgressFn>,
    ) -> Self {
        let n = if only.is_some() {
            1
        } else {
            opts.shards as usize
        };
        Collector {
            pool: pool.clone(),
            names,
            shards: opts.shards,
            only,
            budget: opts.memory_budget,
            policy: opts.on_duplicate,
            max_value_len: opts.max_value_len,
            run_dir,
            buffers: (0..n).map(|_| Vec::new()).collect(),
            buffered: 0,
            runs: vec![Vec::new(); n],
            spills: 0,
            spilled_runs: 0,
            dropped: 0,
            progress,
        }
    }

    pub(crate) fn max_value_len(&self) -> u64 {
        self.max_value_len
    }

    /// Checks and buffers one record; spills when over budget.
    pub(crate) fn push(&mut self, key: &[u8], value: &[u8], origin: Origin) -> Result<()> {
        let problem = if key.is_empty() {
            Some("empty key".to_string())
        } else if key.len() > tusk_format::MAX_KEY_LEN {
            Some(format!(
                "key of {} bytes exceeds the limit of {} bytes",
                key.len(),
                tusk_format::MAX_KEY_LEN
            ))
        } else if value.len() as u64 > self.max_value_len {
            Some(format!(
                "value of {} bytes exceeds the limit of {} bytes",
                value.len(),
                self.max_value_len
            ))
        } else {
            None
        };
        if let Some(detail) = problem {
            return Err(WriteError::Input {
                location: self.names.location(origin),
                detail,
            });
        }
        let mut shard = tusk_format::partition::shard_for(key, self.shards);
        if let Some(only) = self.only {
            if shard != only {
                return Err(WriteError::Input {
                    location: self.names.location(origin),
                    detail: format!(
                        "key {} belongs to shard {shard} of {}, not to shard {only} being built",
                        crate::record::display_key(key),
                        self.shards
                    ),
                });
            }
            shard = 0;
        }
        let shard = shard as usize;
        let rec = InputRecord::new(key, value, origin);
        self.buffered += rec.cost();
        self.buffers[shard].push(rec);
        if self.buffered > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts every shard buffer and writes it as a run, in parallel.
    fn spill(&mut self) -> Result<()> {
        let spill = self.spills;
        self.spills += 1;
        let buffers: Vec<Vec<InputRecord>> = std::mem::take(&mut self.buffers);
        self.buffers = buffers.iter().map(|_| Vec::new()).collect();
        let (names, policy, dir) = (&self.names, self.policy, &self.run_dir);
        let written: Vec<(Option<PathBuf>, u64)> = self.pool.run(|| {
            buffers
                .into_par_iter()
                .enumerate()
                .map(|(shard, buf)| {
                    let path = dir.join(format!("s{shard:05}-{spill:08}.run"));
                    write_run(buf, path, policy, names)
                })
                .collect::<Result<Vec<_>>>()
        })?;
        let mut runs = 0;
        for (shard, (path, dropped)) in written.into_iter().enumerate() {
            self.dropped += dropped;
            if let Some(path) = path {
                self.runs[shard].push(path);
                runs += 1;
            }
        }
        self.spilled_runs += runs;
        tracing::debug!(spill, runs, bytes = self.buffered, "spilled sorted runs");
        if let Some(cb) = &self.progress {
            cb(ProgressEvent::Spilled {
                runs,
                bytes: self.buffered,
            });
        }
        self.buffered = 0;
        Ok(())
    }

    pub(crate) fn finish(self) -> Collected {
        Collected {
            names: self.names,
            buffers: self.buffers,
            runs: self.runs,
            spilled_runs: self.spilled_runs,
            dropped: self.dropped,
        }
    }
}

/// Sorts `buf` and writes it (duplicates resolved) to `path`; `None` when empty.
fn write_run(
    mut buf: Vec<InputRecord>,
    path: PathBuf,
    policy: OnDuplicate,
    names: &Names,
) -> Result<(Option<PathBuf>, u64)> {
    if buf.is_empty() {
        return Ok((None, 0));
    }
    buf.sort_unstable_by(InputRecord::order);
    let mut writer = RunWriter::create(path)?;
    let merge = Merge::new(vec![Source::Memory(buf.into_iter())])?;
    let dropped = drain_deduped(merge, policy, names, |rec| writer.write(&rec))?;
    Ok((Some(writer.finish()?), dropped))
}
