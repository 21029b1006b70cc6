//! The collector: checks each record, routes it to its shard's open segment, has
//! each full segment sorted on a pool thread while reading goes on, and spills sorted
//! runs to disk when the segments' bytes exceed the memory budget.
//!
//! A spill writes the shards holding the most bytes, only as many as it takes to get
//! back to half the budget ([`shards_to_spill`]); the others stay in memory. What is
//! still in memory at the end never goes through a run, so a build that spills keeps
//! between half and all of its budget's worth of records off the temp disk.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use rayon::prelude::*;

use crate::error::{Result, WriteError};
use crate::merge::drain_deduped;
use crate::options::{OnDuplicate, WriteOptions};
use crate::pool::Pool;
use crate::progress::{ProgressEvent, ProgressFn};
use crate::record::{Names, Origin};
use crate::run::RunWriter;
use crate::segment::{Segment, SegmentMerge, segment_bytes};

/// Records gathered per shard: the in-memory segments and the spilled runs.
pub(crate) struct Collected {
    pub(crate) names: Names,
    /// Each shard's segments; the last one read into may be unsorted.
    pub(crate) segments: Vec<Vec<Segment>>,
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
    /// The segment each shard's records are appended to.
    open: Vec<Segment>,
    /// Size at which a segment is sealed: see [`segment_bytes`].
    segment_bytes: usize,
    /// Full segments, sorted (or being sorted) on the pool.
    sorting: Arc<SortQueue>,
    /// Sorted segments of shards the last spills left in memory, per shard.
    held: Vec<Vec<Segment>>,
    /// Bytes allocated by every segment held: the amount charged to the budget.
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
            open: (0..n).map(|_| Segment::default()).collect(),
            segment_bytes: segment_bytes(opts.memory_budget, n),
            sorting: Arc::new(SortQueue::new(n)),
            held: (0..n).map(|_| Vec::new()).collect(),
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
        let open = &self.open[shard];
        let full = open.is_full_for(key.len() + value.len(), self.segment_bytes);
        if full || open.allocated() == 0 {
            // A shard's segments are allocated whole (charged now), sized like the
            // last full one, rather than grown by copying.
            let next = Segment::with_capacity(self.segment_bytes, open.len());
            self.buffered += next.allocated();
            let previous = std::mem::replace(&mut self.open[shard], next);
            if full {
                self.sorting.add(shard, previous, &self.pool);
            }
        }
        let open = &mut self.open[shard];
        let before = open.allocated();
        open.push(key, value, origin);
        self.buffered += open.allocated() - before;
        if self.buffered > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Every shard's segments, once every sort handed to the pool is done; leaves
    /// the collector with empty segments. Each shard's open segment comes last.
    fn take_segments(&mut self) -> Vec<Vec<Segment>> {
        let sorted = self.sorting.finish();
        let mut segments = std::mem::take(&mut self.held);
        self.held = (0..segments.len()).map(|_| Vec::new()).collect();
        for (shard, (mut sorted, open)) in sorted.into_iter().zip(&mut self.open).enumerate() {
            segments[shard].append(&mut sorted);
            segments[shard].push(std::mem::take(open));
        }
        segments
    }

    /// Writes the segments of the shards [`shards_to_spill`] picks as one sorted run
    /// each, in parallel, and keeps the others in memory.
    fn spill(&mut self) -> Result<()> {
        let spill = self.spills;
        self.spills += 1;
        let mut segments = self.take_segments();
        let bytes: Vec<u64> = segments
            .iter()
            .map(|s| s.iter().map(Segment::allocated).sum())
            .collect();
        let chosen = shards_to_spill(&bytes, self.budget / 2);
        let spilled_bytes: u64 = chosen.iter().map(|&shard| bytes[shard]).sum();
        let mut spills_shard = vec![false; segments.len()];
        chosen.iter().for_each(|&shard| spills_shard[shard] = true);
        let mut outgoing = Vec::with_capacity(chosen.len());
        for (shard, segments) in segments.iter_mut().enumerate() {
            if spills_shard[shard] {
                outgoing.push((shard, std::mem::take(segments)));
            } else {
                // Back in place: the open segment to be read into, the others held.
                self.open[shard] = segments.pop().unwrap_or_default();
                self.held[shard] = std::mem::take(segments);
            }
        }
        let (names, policy, dir) = (&self.names, self.policy, &self.run_dir);
        let written: Vec<(usize, Option<PathBuf>, u64)> = self.pool.run(|| {
            outgoing
                .into_par_iter()
                .map(|(shard, segments)| {
                    let path = dir.join(format!("s{shard:05}-{spill:08}.run"));
                    write_run(segments, path, policy, names)
                        .map(|(path, dropped)| (shard, path, dropped))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        let mut runs = 0;
        for (shard, path, dropped) in written {
            self.dropped += dropped;
            if let Some(path) = path {
                self.runs[shard].push(path);
                runs += 1;
            }
        }
        self.spilled_runs += runs;
        tracing::debug!(spill, runs, bytes = spilled_bytes, "spilled sorted runs");
        if let Some(cb) = &self.progress {
            cb(ProgressEvent::Spilled {
                runs,
                bytes: spilled_bytes,
            });
        }
        self.buffered = bytes.iter().sum::<u64>() - spilled_bytes;
        Ok(())
    }

    /// Everything collected, once the pool's sorts are done.
    pub(crate) fn finish(mut self) -> Collected {
        let segments = self.take_segments();
        Collected {
            names: self.names,
            segments,
            runs: self.runs,
            spilled_runs: self.spilled_runs,
            dropped: self.dropped,
        }
    }
}

/// The shards a spill writes out: those holding the most bytes, largest first, until
/// the bytes left in memory are at most `keep` (every shard when `keep` is 0).
///
/// Writing only the largest shards spills the most bytes per run written, and what
/// stays in memory at the end of a build is never written to a run at all. Keeping
/// half the budget still leaves each later spill at least half a budget to write.
pub(crate) fn shards_to_spill(bytes: &[u64], keep: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..bytes.len()).collect();
    // Largest first; equal sizes in shard order, so the choice is deterministic.
    order.sort_by_key(|&shard| (std::cmp::Reverse(bytes[shard]), shard));
    let mut left: u64 = bytes.iter().sum();
    let mut chosen = Vec::new();
    for shard in order {
        if left <= keep || bytes[shard] == 0 {
            break;
        }
        left -= bytes[shard];
        chosen.push(shard);
    }
    chosen
}

/// Sorts and merges `segments` and writes them (duplicates resolved) as one run
/// at `path`; `None` when they hold no record.
fn write_run(
    mut segments: Vec<Segment>,
    path: PathBuf,
    policy: OnDuplicate,
    names: &Names,
) -> Result<(Option<PathBuf>, u64)> {
    if segments.iter().all(Segment::is_empty) {
        return Ok((None, 0));
    }
    segments.iter_mut().for_each(Segment::sort);
    let mut writer = RunWriter::create(path)?;
    let mut merge = SegmentMerge::new(&segments);
    let dropped = drain_deduped(
        || Ok(merge.next_record()),
        policy,
        names,
        |rec| writer.write(&rec),
    )?;
    Ok((Some(writer.finish()?), dropped))
}

/// Full segments waiting to be sorted, being sorted, and sorted, per shard.
///
/// Each full segment is queued and one pool task is spawned for it; a task sorts
/// whichever queued segment it finds first. [`finish`](Self::finish) sorts what is
/// still queued on the calling thread instead of waiting for a pool thread, so it
/// cannot wait on a task that needs the thread it blocks (a pool of one thread, or a
/// caller that is itself a pool thread).
struct SortQueue {
    state: Mutex<QueueState>,
    done: Condvar,
}

struct QueueState {
    /// Full segments waiting for a thread, with their shard.
    queued: Vec<(usize, Segment)>,
    /// Segments taken by a thread and not yet sorted.
    sorting: usize,
    /// Sorted segments, per shard.
    sorted: Vec<Vec<Segment>>,
}

impl SortQueue {
    fn new(shards: usize) -> Self {
        SortQueue {
            state: Mutex::new(QueueState {
                queued: Vec::new(),
                sorting: 0,
                sorted: (0..shards).map(|_| Vec::new()).collect(),
            }),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A sort cannot panic midway through a state change: the state stays valid.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues shard `shard`'s full segment and has the pool sort it.
    fn add(self: &Arc<Self>, shard: usize, segment: Segment, pool: &Pool) {
        self.lock().queued.push((shard, segment));
        let queue = Arc::clone(self);
        pool.spawn(move || {
            queue.sort_one();
        });
    }

    /// Sorts one queued segment, if any is left; `false` when none was.
    fn sort_one(&self) -> bool {
        let Some((shard, mut segment)) = ({
            let mut state = self.lock();
            let next = state.queued.pop();
            state.sorting += usize::from(next.is_some());
            next
        }) else {
            return false;
        };
        segment.sort();
        let mut state = self.lock();
        state.sorting -= 1;
        state.sorted[shard].push(segment);
        self.done.notify_all();
        true
    }

    /// Every segment added, sorted, per shard; the queue is left empty.
    fn finish(&self) -> Vec<Vec<Segment>> {
        while self.sort_one() {}
        let mut state = self.lock();
        while state.sorting > 0 {
            state = self
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let shards = state.sorted.len();
        std::mem::replace(&mut state.sorted, (0..shards).map(|_| Vec::new()).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::collect::{Collector, shards_to_spill};
    use crate::pool::Pool;
    use crate::record::{Names, Origin};
    use crate::segment::segment_bytes;
    use crate::{WriteOptions, build_from_iter};

    #[test]
    fn a_spill_writes_the_largest_shards_until_half_the_budget_is_left() {
        // 100 + 40 + 70 + 10 = 220 bytes; keep 110: 100 goes, then 70 (50 left).
        assert_eq!(shards_to_spill(&[100, 40, 70, 10], 110), [0, 2]);
        assert_eq!(shards_to_spill(&[100, 40, 70, 10], 120), [0]);
        assert_eq!(
            shards_to_spill(&[100, 40, 70, 10], 220),
            Vec::<usize>::new()
        );
        // Nothing kept: every shard that holds bytes, and none that holds none.
        assert_eq!(shards_to_spill(&[5, 0, 5], 0), [0, 2]);
        // Ties go in shard order.
        assert_eq!(shards_to_spill(&[7, 7, 7, 7], 14), [0, 1]);
        assert_eq!(shards_to_spill(&[], 0), Vec::<usize>::new());
    }

    /// A collector over budget spills its fullest shards and keeps the rest in
    /// memory: the kept records reach `finish` without a run, none is lost, and the
    /// budget holds again after the spill.
    #[test]
    fn a_spill_keeps_the_smaller_shards_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = WriteOptions::new("d");
        opts.shards = 4;
        opts.memory_budget = 4 << 20;
        let pool = Pool::new(Some(2)).unwrap();
        let mut c = Collector::new(&opts, Names::default(), &pool, dir.path().into(), None);
        // Keys of shard 0 get values ten times longer than the others' keys.
        let (mut pushed, mut line) = (0u64, 0u64);
        while c.spills == 0 {
            line += 1;
            let key = format!("key-{line}").into_bytes();
            let shard = tusk_format::partition::shard_for(&key, 4);
            let value = vec![b'v'; if shard == 0 { 1000 } else { 100 }];
            c.push(&key, &value, Origin { source: 0, line }).unwrap();
            pushed += 1;
        }
        assert!(c.buffered <= opts.memory_budget / 2, "{}", c.buffered);
        let spilled: Vec<usize> = (0..4).filter(|&s| !c.runs[s].is_empty()).collect();
        assert_eq!(spilled[0], 0, "the fullest shard is spilled first");
        assert!(spilled.len() < 4, "some shard stays in memory: {spilled:?}");
        let kept = (0..4).find(|s| !spilled.contains(s)).unwrap();
        let collected = c.finish();
        let in_memory: Vec<usize> = collected
            .segments
            .iter()
            .map(|s| s.iter().map(|s| s.len()).sum())
            .collect();
        assert!(in_memory[kept] > 0, "{in_memory:?}");
        let in_runs: usize = spilled
            .iter()
            .map(|&s| {
                let mut reader =
                    crate::run::RunReader::open(&collected.runs[s][0], 1 << 16, 1 << 20).unwrap();
                std::iter::from_fn(|| reader.next_record().unwrap()).count()
            })
            .sum();
        assert_eq!((in_runs + in_memory.iter().sum::<usize>()) as u64, pushed);
    }

    /// Records enough to fill several segments of one shard.
    fn records() -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
        let n = 3 * segment_bytes(1 << 30, 1) / 500;
        (0..n).map(move |i| (format!("key-{:08}", n - i).into_bytes(), vec![b'v'; 490]))
    }

    /// A caller that is the only thread of its rayon pool still finishes: the sorts
    /// it queued for that pool, which cannot run while it waits, are done by the
    /// caller itself. With and without spilling.
    #[test]
    fn a_build_on_the_only_thread_of_its_pool_sorts_its_own_segments() {
        for budget in [crate::MIN_MEMORY_BUDGET, 1 << 30] {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .unwrap();
                let mut opts = WriteOptions::new("d");
                opts.shards = 1;
                opts.memory_budget = budget;
                let built = pool.install(|| build_from_iter(records(), &opts, None));
                let _ = tx.send(built.map(|b| (b.stats.records, b.stats.spilled_runs)));
            });
            let (count, spilled) = rx
                .recv_timeout(Duration::from_secs(120))
                .expect("the build finished within 2 minutes")
                .unwrap();
            assert_eq!(count, records().count() as u64);
            assert_eq!(spilled > 0, budget == crate::MIN_MEMORY_BUDGET, "{spilled}");
        }
    }
}
