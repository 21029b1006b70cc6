//! The two entry points that build a version: from input files, or from an iterator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use rayon::prelude::*;
use tempfile::TempDir;

use crate::built::{BuildStats, BuiltVersion, make_manifest};
use crate::collect::Collector;
use crate::error::{Result, WriteError};
use crate::input;
use crate::options::{
    InputOptions, InputSource, MIN_MEMORY_BUDGET, WriteOptions, check_memory_budget_at_least,
    check_shards,
};
use crate::pool::Pool;
use crate::progress::{Progress, ProgressEvent, ProgressFn};
use crate::record::{ITER_SOURCE, Names, Origin};
use crate::shard::{FAN_IN, ShardContext, build_shard};

/// Builds a version from input files (or stdin), parsed as `input` says.
///
/// Nothing is published: hand the result to [`publish`](crate::publish). On error
/// every temporary file is removed.
pub fn build_from_inputs(
    sources: &[InputSource],
    input: &InputOptions,
    opts: &WriteOptions,
    progress: Option<ProgressFn>,
) -> Result<BuiltVersion> {
    let started = Instant::now();
    check_options(opts, MIN_MEMORY_BUDGET)?;
    let files = input::expand(sources, input.format)?;
    let names = Names(files.iter().map(|f| f.name.clone()).collect());
    let mut meta = BTreeMap::new();
    meta.insert("input_format".to_string(), input.format.to_string());
    meta.insert("inputs".to_string(), summarize_inputs(&names.0));

    let pool = Pool::new(opts.threads)?;
    let job = ShardJob::start(opts, progress)?;
    let mut progress = Progress::new(job.progress.clone());
    progress.emit(ProgressEvent::InputSize(input::total_size(&files)));
    progress.emit(ProgressEvent::Phase("reading"));
    let mut collector =
        Collector::new(opts, names, &pool, job.run_dir.clone(), progress.callback());
    let input_bytes = input::read_all(&files, input, &mut collector, &mut progress)?;
    job.finish(collector, &pool, opts, input_bytes, meta, started)
}

/// Builds a version from `(key, value)` pairs in any order. Errors name the record
/// by its 1-based position (`record 17`).
pub fn build_from_iter<I, K, V>(
    records: I,
    opts: &WriteOptions,
    progress: Option<ProgressFn>,
) -> Result<BuiltVersion>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    build_from_iter_with_floor(records, opts, progress, MIN_MEMORY_BUDGET)
}

/// [`build_from_iter`] with another memory budget floor: unit tests of spilling and
/// multi-level merges use budgets of a few KiB.
pub(crate) fn build_from_iter_with_floor<I, K, V>(
    records: I,
    opts: &WriteOptions,
    progress: Option<ProgressFn>,
    memory_floor: u64,
) -> Result<BuiltVersion>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let started = Instant::now();
    check_options(opts, memory_floor)?;
    let pool = Pool::new(opts.threads)?;
    let job = ShardJob::start(opts, progress)?;
    let mut progress = Progress::new(job.progress.clone());
    progress.emit(ProgressEvent::Phase("reading"));
    let mut collector = Collector::new(
        opts,
        Names::default(),
        &pool,
        job.run_dir.clone(),
        progress.callback(),
    );
    let mut input_bytes = 0u64;
    for (line, (key, value)) in (1u64..).zip(records) {
        let (key, value) = (key.as_ref(), value.as_ref());
        let bytes = (key.len() + value.len()) as u64;
        input_bytes += bytes;
        collector.push(
            key,
            value,
            Origin {
                source: ITER_SOURCE,
                line,
            },
        )?;
        progress.read(bytes, 1);
    }
    progress.flush();
    job.finish(
        collector,
        &pool,
        opts,
        input_bytes,
        BTreeMap::new(),
        started,
    )
}

/// Checks the options before anything is allocated or created.
pub(crate) fn check_options(opts: &WriteOptions, memory_floor: u64) -> Result<()> {
    tusk_store::keys::validate_domain(&opts.domain).map_err(WriteError::InvalidDomain)?;
    check_shards(u64::from(opts.shards))?;
    check_memory_budget_at_least(opts.memory_budget, memory_floor)?;
    Ok(())
}

/// `a.tsv, b.tsv, ... (+N more)`: the first few input names, for the manifest.
fn summarize_inputs(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" (+{} more)", names.len() - SHOWN));
    }
    s
}

/// The temporary directories of one build: `runs/` for spilled runs and `shards/`
/// for the built files, in a workspace under `opts.temp_dir` removed when dropped.
pub(crate) struct ShardJob {
    pub(crate) workspace: TempDir,
    pub(crate) run_dir: PathBuf,
    pub(crate) shard_dir: PathBuf,
    progress: Option<ProgressFn>,
}

impl ShardJob {
    pub(crate) fn start(opts: &WriteOptions, progress: Option<ProgressFn>) -> Result<Self> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("tusk-writer-");
        let parent = opts.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
        let workspace = builder
            .tempdir_in(&parent)
            .map_err(|e| WriteError::temp(&parent, e))?;
        let run_dir = workspace.path().join("runs");
        let shard_dir = workspace.path().join("shards");
        for dir in [&run_dir, &shard_dir] {
            std::fs::create_dir(dir).map_err(|e| WriteError::temp(dir, e))?;
        }
        Ok(ShardJob {
            workspace,
            run_dir,
            shard_dir,
            progress,
        })
    }

    /// Builds every shard in parallel from what `collector` gathered.
    fn finish(
        self,
        collector: Collector,
        pool: &Pool,
        opts: &WriteOptions,
        input_bytes: u64,
        meta: BTreeMap<String, String>,
        started: Instant,
    ) -> Result<BuiltVersion> {
        let progress = Progress::new(self.progress.clone());
        progress.emit(ProgressEvent::Phase("building"));
        let collected = collector.finish();
        let ctx = ShardContext {
            names: &collected.names,
            policy: opts.on_duplicate,
            max_value_len: opts.max_value_len,
            shard_format: opts.shard_format,
            shard_dir: &self.shard_dir,
            run_dir: &self.run_dir,
            read_buffer: read_buffer(opts.memory_budget, pool.threads()),
            progress: self.progress.clone(),
        };
        let (segments, runs) = (collected.segments, collected.runs);
        let built = pool.run(|| {
            segments
                .into_par_iter()
                .zip(runs)
                .zip(0u32..opts.shards)
                .map(|((segments, runs), index)| build_shard(index, segments, runs, &ctx))
                .collect::<Result<Vec<_>>>()
        })?;
        if let Err(e) = std::fs::remove_dir(&self.run_dir) {
            tracing::warn!(path = %self.run_dir.display(), error = %e, "cannot remove run directory");
        }
        let summaries: Vec<_> = built.iter().map(|(s, _)| *s).collect();
        let dropped = collected.dropped + built.iter().map(|(_, d)| d).sum::<u64>();
        let manifest = make_manifest(
            &opts.domain,
            opts.shard_format,
            &summaries,
            meta,
            &opts.writer_meta,
            SystemTime::now(),
        );
        let stats = BuildStats {
            records: manifest.records,
            input_bytes,
            shard_bytes: manifest.bytes,
            shards: opts.shards,
            spilled_runs: collected.spilled_runs,
            duplicates_dropped: dropped,
            elapsed: started.elapsed(),
        };
        tracing::info!(
            domain = %manifest.domain,
            version = %manifest.version,
            records = stats.records,
            shards = stats.shards,
            spilled_runs = stats.spilled_runs,
            "built version"
        );
        progress.emit(ProgressEvent::Phase("done"));
        Ok(BuiltVersion {
            manifest,
            stats,
            shard_dir: self.shard_dir,
            _workspace: self.workspace,
        })
    }
}

/// Read buffer per open run during merges: a slice of the budget shared by the
/// runs of all shards built at once, between 8 KiB and 1 MiB.
pub(crate) fn read_buffer(budget: u64, threads: usize) -> usize {
    let share = budget / 4 / (threads.max(1) as u64 * FAN_IN as u64);
    usize::try_from(share.clamp(8 * 1024, 1 << 20)).expect("at most 1 MiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_summary_is_bounded() {
        let names: Vec<String> = (0..12).map(|i| format!("f{i}")).collect();
        assert_eq!(summarize_inputs(&names[..2]), "f0, f1");
        assert!(summarize_inputs(&names).ends_with("f9 (+2 more)"));
    }

    #[test]
    fn read_buffers_stay_within_bounds() {
        assert_eq!(read_buffer(4096, 2), 8 * 1024);
        assert_eq!(read_buffer(1 << 40, 2), 1 << 20);
        assert_eq!(read_buffer(64 << 20, 2), 128 * 1024);
    }
}
