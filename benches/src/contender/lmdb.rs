//! LMDB through heed 0.22, in a temp dir: every record appended in key order in
//! one write transaction (`MDB_APPEND`, LMDB's bulk load: full pages, no splits),
//! then read through one long-lived read transaction, so a lookup is LMDB's
//! B+tree search alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, PutFlags, RoTxn, WithTls};

use crate::data::Dataset;
use crate::lookup::Lookup;
use crate::report::Rate;
use crate::{BenchError, Result};

/// The name of LMDB's bulk load in the report.
pub const LMDB_BUILD: &str = "LMDB (heed) append + commit";

/// An LMDB environment holding the dataset, removed from disk on drop.
pub struct Lmdb {
    // Field order matters: the transaction ends before the environment closes,
    // and both before the directory is removed.
    rtxn: RoTxn<'static, WithTls>,
    db: Database<Bytes, Bytes>,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

fn err(path: &Path) -> impl Fn(heed::Error) -> BenchError + '_ {
    move |source| BenchError::Lmdb {
        path: path.to_path_buf(),
        source: Box::new(source),
    }
}

impl Lmdb {
    /// Creates an environment in a new directory under `parent`, appends every
    /// record of `data` (in key order) in one write transaction and commits
    /// (LMDB syncs on commit); the rate covers the appends and the commit.
    pub fn load(data: &Dataset, parent: &Path) -> Result<(Self, Rate)> {
        let dir = crate::temp_dir_in(parent, "lmdb-")?;
        let path = dir.path().to_path_buf();
        let err = |source| BenchError::Lmdb {
            path: dir.path().to_path_buf(),
            source: Box::new(source),
        };
        // Room for the data three times over, in whole MiB (LMDB wants a multiple
        // of the page size): the map is virtual, only used pages take disk.
        let map_size = (data.input_bytes() as usize * 3)
            .max(64 << 20)
            .next_multiple_of(1 << 20);
        // SAFETY: the environment lives in a fresh private temp dir that nothing
        // else opens, which is what heed asks of `open` (one Env per path per
        // process, file not modified from outside).
        let env: Env =
            unsafe { EnvOpenOptions::new().map_size(map_size).open(&path) }.map_err(&err)?;
        let start = Instant::now();
        let mut wtxn = env.write_txn().map_err(&err)?;
        let db: Database<Bytes, Bytes> = env.create_database(&mut wtxn, None).map_err(&err)?;
        for (k, v) in data.iter() {
            db.put_with_flags(&mut wtxn, PutFlags::APPEND, k, v)
                .map_err(&err)?;
        }
        wtxn.commit().map_err(&err)?;
        let elapsed = start.elapsed();
        let rtxn = env.clone().static_read_txn().map_err(&err)?;
        // The database's pages in use (the file may hold free pages beyond them).
        let stat = db.stat(&rtxn).map_err(&err)?;
        let pages = stat.branch_pages + stat.leaf_pages + stat.overflow_pages;
        let disk = pages as u64 * u64::from(stat.page_size);
        let rate = Rate::new(
            LMDB_BUILD,
            data.len() as u64,
            data.input_bytes(),
            disk,
            elapsed,
        );
        Ok((
            Lmdb {
                rtxn,
                db,
                path,
                _dir: dir,
            },
            rate,
        ))
    }
}

impl Lookup for Lmdb {
    type Value<'a> = &'a [u8];

    fn name(&self) -> &'static str {
        "lmdb"
    }

    #[inline]
    fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        self.db.get(&self.rtxn, key).map_err(err(&self.path))
    }
}
