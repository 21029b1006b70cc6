//! Progress events for a caller's progress bar or log.
//!
//! A build ([`build_from_inputs`](crate::build_from_inputs)) reports `InputSize`
//! (files only), `Phase("reading")`, `BytesRead`/`RecordsRead`, `Spilled`,
//! `Phase("building")`, one `ShardBuilt` per shard, `Phase("done")`. A
//! [`publish`](crate::publish) reports `Phase("uploading")`, one `ShardUploaded` per
//! shard, `Phase("activating")` when it activates, and `Phase("done")`.

use std::sync::Arc;

/// One step of progress. Counters are deltas since the previous event of the same
/// kind; they are batched (roughly every 1 MiB or 16,384 records), so a callback
/// costs nothing measurable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// The size of the whole input as stored, once the inputs are listed and before
    /// any is read: the sum of the file sizes, or `None` when one of them is stdin or
    /// not a regular file (a pipe), whose size is unknown.
    InputSize(Option<u64>),
    /// More input bytes were read (as stored: compressed bytes for `.gz`/`.zst`).
    BytesRead(u64),
    /// More input records were parsed.
    RecordsRead(u64),
    /// A new phase started: `"reading"`, `"building"`, `"uploading"`, `"activating"`,
    /// or `"done"` at the end of a build and of a publish.
    Phase(&'static str),
    /// Sorted runs were written to disk because the memory budget was reached.
    Spilled {
        /// Run files written by this spill (one per shard it chose that held records).
        runs: u64,
        /// Buffered bytes (as accounted) released by the spill.
        bytes: u64,
    },
    /// A shard file is complete.
    ShardBuilt {
        /// Shard index.
        index: u32,
        /// Records in the shard.
        records: u64,
        /// File size in bytes.
        bytes: u64,
    },
    /// A shard file is uploaded to the store (and its size checked); shards finish
    /// in any order, a few at a time.
    ShardUploaded {
        /// Shard index.
        index: u32,
        /// File size in bytes.
        bytes: u64,
    },
}

/// A progress callback. Called from the reading thread, from build threads and from
/// upload tasks, so it must be cheap and must not block.
pub type ProgressFn = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

const BYTES_BATCH: u64 = 1 << 20;
const RECORDS_BATCH: u64 = 16 * 1024;

/// Batches byte and record deltas before calling the callback.
pub(crate) struct Progress {
    callback: Option<ProgressFn>,
    bytes: u64,
    records: u64,
}

impl Progress {
    pub(crate) fn new(callback: Option<ProgressFn>) -> Self {
        Progress {
            callback,
            bytes: 0,
            records: 0,
        }
    }

    /// Sends `event` right away.
    pub(crate) fn emit(&self, event: ProgressEvent) {
        if let Some(cb) = &self.callback {
            cb(event);
        }
    }

    /// Adds read bytes and records; reports when a batch is full.
    pub(crate) fn read(&mut self, bytes: u64, records: u64) {
        self.bytes += bytes;
        self.records += records;
        if self.bytes >= BYTES_BATCH || self.records >= RECORDS_BATCH {
            self.flush();
        }
    }

    /// Reports whatever is pending.
    pub(crate) fn flush(&mut self) {
        if self.bytes > 0 {
            let bytes = std::mem::take(&mut self.bytes);
            self.emit(ProgressEvent::BytesRead(bytes));
        }
        if self.records > 0 {
            let records = std::mem::take(&mut self.records);
            self.emit(ProgressEvent::RecordsRead(records));
        }
    }

    /// A cheap handle for build threads.
    pub(crate) fn callback(&self) -> Option<ProgressFn> {
        self.callback.clone()
    }
}
