//! Building one shard: merge its runs and in-memory remainder into a shard file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use tusk_format::{BuildOptions, ShardBuilder, ShardFormat, ShardSummary};
use tusk_store::shard_object_name;

use crate::error::{Result, WriteError};
use crate::merge::{Merge, Source, drain_deduped};
use crate::options::OnDuplicate;
use crate::progress::{ProgressEvent, ProgressFn};
use crate::record::{Names, Record};
use crate::run::{RunReader, RunWriter};
use crate::segment::{Segment, SegmentMerge};

/// Most sources merged at once; more runs are first merged in groups of this many.
pub(crate) const FAN_IN: usize = 64;

const SHARD_WRITE_BUFFER: usize = 256 * 1024;

/// What every shard build shares.
pub(crate) struct ShardContext<'a> {
    pub(crate) names: &'a Names,
    pub(crate) policy: OnDuplicate,
    pub(crate) max_value_len: u64,
    pub(crate) shard_format: ShardFormat,
    pub(crate) shard_dir: &'a Path,
    pub(crate) run_dir: &'a Path,
    /// Read buffer per open run.
    pub(crate) read_buffer: usize,
    pub(crate) progress: Option<ProgressFn>,
}

/// Builds shard `index` from its in-memory segments and spilled runs; returns its
/// summary and the duplicates dropped. The segments' records are merged with the
/// runs' where they lie, never copied.
pub(crate) fn build_shard(
    index: u32,
    mut segments: Vec<Segment>,
    runs: Vec<PathBuf>,
    ctx: &ShardContext<'_>,
) -> Result<(ShardSummary, u64)> {
    let (runs, mut dropped) = reduce_runs(index, runs, ctx)?;
    segments.iter_mut().for_each(Segment::sort);
    let path = ctx.shard_dir.join(shard_object_name(index));
    let file = File::create(&path).map_err(|e| WriteError::temp(&path, e))?;
    let format_error = |source| WriteError::Format {
        shard: index,
        source,
    };
    let opts = BuildOptions {
        max_value_len: ctx.max_value_len,
        format: ctx.shard_format,
        ..BuildOptions::default()
    };
    let mut builder = ShardBuilder::new(BufWriter::with_capacity(SHARD_WRITE_BUFFER, file), opts)
        .map_err(format_error)?;
    let mut sources = open_runs(&runs, ctx)?;
    sources.push(Source::Memory(SegmentMerge::new(&segments)));
    let mut merge = Merge::new(sources)?;
    dropped += drain_deduped(
        || merge.next_record(),
        ctx.policy,
        ctx.names,
        |rec| builder.add(rec.key(), rec.value()).map_err(format_error),
    )?;
    let (out, summary) = builder.finish().map_err(format_error)?;
    out.into_inner()
        .map_err(|e| WriteError::temp(&path, e.into_error()))?;
    remove_runs(&runs);
    if let Some(cb) = &ctx.progress {
        cb(ProgressEvent::ShardBuilt {
            index,
            records: summary.records,
            bytes: summary.bytes,
        });
    }
    Ok((summary, dropped))
}

fn open_runs<'a>(runs: &[PathBuf], ctx: &ShardContext<'_>) -> Result<Vec<Source<'a>>> {
    runs.iter()
        .map(|p| RunReader::open(p, ctx.read_buffer, ctx.max_value_len).map(Source::Run))
        .collect()
}

fn remove_runs(runs: &[PathBuf]) {
    for run in runs {
        if let Err(e) = std::fs::remove_file(run) {
            tracing::warn!(path = %run.display(), error = %e, "cannot remove spilled run");
        }
    }
}

/// Merges runs in groups of [`FAN_IN`] until fewer than `FAN_IN` are left (so the
/// final merge, with the in-memory segments, has at most `FAN_IN` sources).
fn reduce_runs(
    index: u32,
    mut runs: Vec<PathBuf>,
    ctx: &ShardContext<'_>,
) -> Result<(Vec<PathBuf>, u64)> {
    let mut dropped = 0;
    let mut merged = 0u64;
    while runs.len() >= FAN_IN {
        let group: Vec<PathBuf> = runs.drain(..FAN_IN).collect();
        let out = ctx.run_dir.join(format!("s{index:05}-m{merged:08}.run"));
        merged += 1;
        let mut writer = RunWriter::create(out)?;
        let mut merge = Merge::new(open_runs(&group, ctx)?)?;
        dropped += drain_deduped(
            || merge.next_record(),
            ctx.policy,
            ctx.names,
            |rec| writer.write(&rec),
        )?;
        runs.push(writer.finish()?);
        remove_runs(&group);
    }
    Ok((runs, dropped))
}
