//! redb in a temp file: every record inserted in one write transaction, then
//! read through one long-lived read-only table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use redb::{AccessGuard, Database, ReadOnlyTable, ReadableDatabase, TableDefinition};

use crate::data::Dataset;
use crate::lookup::Lookup;
use crate::report::Rate;
use crate::{BenchError, Result};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

/// A redb database holding the dataset, removed from disk on drop.
pub struct RedbTable {
    // Field order matters: the table's transaction ends before the database
    // closes, and both before the directory is removed.
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    _db: Database,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

fn err<E: Into<redb::Error>>(path: &Path) -> impl Fn(E) -> BenchError + '_ {
    move |source| BenchError::Redb {
        path: path.to_path_buf(),
        source: Box::new(source.into()),
    }
}

/// A value redb hands back; it keeps the read transaction's page alive.
pub struct RedbValue(AccessGuard<'static, &'static [u8]>);

impl AsRef<[u8]> for RedbValue {
    fn as_ref(&self) -> &[u8] {
        self.0.value()
    }
}

impl RedbTable {
    /// Creates a database in a new directory under `parent`, inserts every
    /// record of `data` in one write transaction and commits (durable by
    /// default: redb syncs on commit); the rate covers the inserts and the
    /// commit.
    pub fn load(data: &Dataset, parent: &Path) -> Result<(Self, Rate)> {
        let dir = crate::temp_dir_in(parent, "redb-")?;
        let path = dir.path().join("bench.redb");
        let db = Database::create(&path).map_err(err(&path))?;
        let start = Instant::now();
        let wtxn = db.begin_write().map_err(err(&path))?;
        {
            let mut table = wtxn.open_table(TABLE).map_err(err(&path))?;
            for (k, v) in data.iter() {
                table.insert(k, v).map_err(err(&path))?;
            }
        }
        wtxn.commit().map_err(err(&path))?;
        let elapsed = start.elapsed();
        // The file grows ahead of its contents; compacting gives back the free
        // space, so the size below is what the data needs (not timed).
        let mut db = db;
        db.compact().map_err(err(&path))?;
        let disk = std::fs::metadata(&path)
            .map_err(|source| BenchError::Io {
                what: "reading the size of",
                path: path.clone(),
                source,
            })?
            .len();
        let rtxn = db.begin_read().map_err(err(&path))?;
        let table = rtxn.open_table(TABLE).map_err(err(&path))?;
        let rate = Rate::new(
            "redb insert + commit",
            data.len() as u64,
            data.input_bytes(),
            disk,
            elapsed,
        );
        Ok((
            RedbTable {
                table,
                _db: db,
                path,
                _dir: dir,
            },
            rate,
        ))
    }
}

impl Lookup for RedbTable {
    type Value<'a> = RedbValue;

    fn name(&self) -> &'static str {
        "redb"
    }

    #[inline]
    fn lookup(&self, key: &[u8]) -> Result<Option<RedbValue>> {
        let got = self.table.get(key).map_err(err(&self.path))?;
        Ok(got.map(RedbValue))
    }
}
