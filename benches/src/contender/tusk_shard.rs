//! tusk's native shard: built with `ShardBuilder`, memory-mapped (or read into the
//! heap, to separate the format's cost from the page-cache mapping's), verified, queried.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use memmap2::Mmap;
use tusk_format::{BuildOptions, Probe, Shard, ShardBuilder, ShardFormat};

use crate::data::{Dataset, KEY_LEN};
use crate::lookup::{BatchLookup, Lookup};
use crate::report::Rate;
use crate::{BenchError, Result};

/// The name of tusk's single-shard build in the report.
pub const TUSK_BUILD: &str = "tusk ShardBuilder, 1 shard";

/// One shard file holding the whole dataset, opened through `mmap`.
pub struct TuskShard {
    shard: Shard<Mmap>,
    path: PathBuf,
}

impl TuskShard {
    /// Builds `dir/name` from `data` (already in key order) with a single
    /// `ShardBuilder` writing `format`; the returned rate covers `add`s, `finish`
    /// and the buffered writes to the file (not an fsync).
    pub fn build(
        data: &Dataset,
        dir: &Path,
        name: &str,
        format: ShardFormat,
    ) -> Result<(Self, Rate)> {
        let path = dir.join(name);
        let fmt_err = |source| BenchError::Format {
            path: path.clone(),
            source,
        };
        let file = File::create(&path).map_err(|source| BenchError::Io {
            what: "creating",
            path: path.clone(),
            source,
        })?;
        let start = Instant::now();
        let mut builder = ShardBuilder::new(
            BufWriter::with_capacity(1 << 20, file),
            BuildOptions {
                format,
                ..BuildOptions::default()
            },
        )
        .map_err(fmt_err)?;
        for (k, v) in data.iter() {
            builder.add(k, v).map_err(fmt_err)?;
        }
        let (_, summary) = builder.finish().map_err(fmt_err)?;
        let mut rate = Rate::new(
            TUSK_BUILD,
            data.len() as u64,
            data.input_bytes(),
            summary.bytes,
            start.elapsed(),
        );
        rate.note = format.name().to_string();
        let shard = Self::open(&path)?;
        if shard.shard.len() != data.len() as u64 {
            return Err(BenchError::WrongCount {
                what: "the tusk shard",
                expected: data.len() as u64,
                got: shard.shard.len(),
            });
        }
        Ok((shard, rate))
    }

    /// Maps the shard at `path`, opens it and runs the full `verify()` once.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| BenchError::Io {
            what: "opening",
            path: path.to_path_buf(),
            source,
        })?;
        // SAFETY: the file lives in this bench's private temp dir; it was fully
        // written and closed before this call and nothing writes or truncates it
        // while the map exists (it is deleted only after the map is dropped).
        let map = unsafe { Mmap::map(&file) }.map_err(|source| BenchError::Io {
            what: "mapping",
            path: path.to_path_buf(),
            source,
        })?;
        let fmt_err = |source| BenchError::Format {
            path: path.to_path_buf(),
            source,
        };
        let shard = Shard::open(map).map_err(fmt_err)?;
        shard.verify().map_err(fmt_err)?;
        Ok(TuskShard {
            shard,
            path: path.to_path_buf(),
        })
    }

    /// Size of the shard file in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.shard.as_bytes().len() as u64
    }
}

impl Lookup for TuskShard {
    type Value<'a> = &'a [u8];

    fn name(&self) -> &'static str {
        "tusk"
    }

    #[inline]
    fn lookup<'a>(&'a self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        self.shard.get(key).map_err(|source| BenchError::Format {
            path: self.path.clone(),
            source,
        })
    }
}

impl BatchLookup for TuskShard {
    fn batch_name(&self) -> &'static str {
        "tusk-batch"
    }

    /// A MultiGet's three passes: every key's bucket prefetched, then the records
    /// those buckets point at, then each key read.
    fn lookup_batch(
        &self,
        keys: &[[u8; KEY_LEN]],
        each: &mut dyn FnMut(usize, Option<&[u8]>),
    ) -> Result<()> {
        let probes: Vec<Probe> = keys.iter().map(|k| Probe::new(k)).collect();
        for &p in &probes {
            self.shard.prefetch_bucket(p);
        }
        for &p in &probes {
            self.shard.prefetch_records(p);
        }
        for (i, (key, &p)) in keys.iter().zip(&probes).enumerate() {
            let value = self
                .shard
                .get_probed(key, p)
                .map_err(|source| BenchError::Format {
                    path: self.path.clone(),
                    source,
                })?;
            each(i, value);
        }
        Ok(())
    }
}

/// The same shard file read into an ordinary heap buffer: the format's `get` with no
/// file mapping under it (the server maps files; this row only isolates that cost).
pub struct TuskHeap {
    shard: Shard<Vec<u8>>,
    path: PathBuf,
}

impl TuskHeap {
    /// Reads the whole shard at `path` into memory, opens it and verifies it.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| BenchError::Io {
            what: "reading",
            path: path.to_path_buf(),
            source,
        })?;
        let fmt_err = |source| BenchError::Format {
            path: path.to_path_buf(),
            source,
        };
        let shard = Shard::open(bytes).map_err(fmt_err)?;
        shard.verify().map_err(fmt_err)?;
        Ok(TuskHeap {
            shard,
            path: path.to_path_buf(),
        })
    }
}

impl Lookup for TuskHeap {
    type Value<'a> = &'a [u8];

    fn name(&self) -> &'static str {
        "tusk-heap"
    }

    #[inline]
    fn lookup<'a>(&'a self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        self.shard.get(key).map_err(|source| BenchError::Format {
            path: self.path.clone(),
            source,
        })
    }
}
