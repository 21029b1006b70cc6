//! sled 0.34 in a temp dir, loaded with batches, then flushed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::data::Dataset;
use crate::lookup::Lookup;
use crate::report::Rate;
use crate::{BenchError, Result};

/// Records per `apply_batch` while loading. Bigger batches balloon sled 0.34's
/// memory: 10,000 per batch peaked at 2.2 GB RSS for 1M records, 1,000 at 0.7 GB.
const BATCH: usize = 1_000;

/// A sled database holding the dataset, removed from disk on drop.
pub struct SledTree {
    // Field order matters: the database closes before its directory is removed.
    db: sled::Db,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SledTree {
    /// Creates a fresh database (with `cache_capacity` bytes of cache) in a new
    /// directory under `parent`, loads `data` in batches of 1,000 records and
    /// flushes; the rate covers loading and the flush.
    pub fn load(data: &Dataset, parent: &Path, cache_capacity: u64) -> Result<(Self, Rate)> {
        let dir = crate::temp_dir_in(parent, "sled-")?;
        let path = dir.path().join("db");
        let err = |source| BenchError::Sled {
            path: path.clone(),
            source,
        };
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(cache_capacity)
            .open()
            .map_err(err)?;
        let tree = SledTree {
            db,
            path: path.clone(),
            _dir: dir,
        };
        let start = Instant::now();
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        for (k, v) in data.iter() {
            batch.insert(k, v);
            in_batch += 1;
            if in_batch == BATCH {
                tree.db
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(err)?;
                in_batch = 0;
            }
        }
        if in_batch > 0 {
            tree.db.apply_batch(batch).map_err(err)?;
        }
        tree.db.flush().map_err(err)?;
        let disk = tree.db.size_on_disk().map_err(err)?;
        let mut rate = Rate::new(
            "sled apply_batch + flush",
            data.len() as u64,
            data.input_bytes(),
            disk,
            start.elapsed(),
        );
        rate.note = format!("cache_capacity {} MiB", cache_capacity >> 20);
        Ok((tree, rate))
    }
}

impl Lookup for SledTree {
    type Value<'a> = sled::IVec;

    fn name(&self) -> &'static str {
        "sled"
    }

    #[inline]
    fn lookup(&self, key: &[u8]) -> Result<Option<sled::IVec>> {
        self.db.get(key).map_err(|source| BenchError::Sled {
            path: self.path.clone(),
            source,
        })
    }
}
