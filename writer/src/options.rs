//! What to read and how to build: input formats, encodings, duplicate policy, limits.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use tusk_format::ShardFormat;

pub use tusk_store::Encoding;

use crate::error::WriteError;

/// Layout of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// `key<TAB>value` per line. The line is split at its FIRST tab: the value is
    /// everything after it (it may contain further tabs). `\r\n` line ends are
    /// accepted; blank lines are skipped; a non-blank line without a tab is an error.
    #[default]
    Tsv,
    /// One JSON object per line, `{"key": ..., "value": ...}` (field names
    /// configurable). The key must be a JSON string. The value is either a JSON string
    /// (decoded with the value encoding) or any other JSON value, stored as its own
    /// JSON text with the whitespace outside strings removed (numbers and object key
    /// order are kept exactly as written). Blank lines are skipped; other fields are
    /// ignored.
    Jsonl,
    /// Comma-separated values (RFC 4180): fields may be quoted, with `""` for a quote
    /// and commas, CR or LF inside quotes. The key and value are the columns named by
    /// [`InputOptions::key_column`] and [`InputOptions::value_column`], decoded with
    /// the key and value encodings. The first record is a header unless
    /// [`InputOptions::csv_header`] is false; every record must have as many fields as
    /// the first one. `.gz` and `.zst` files are decompressed as for TSV.
    Csv,
    /// Apache Parquet files (as Spark writes them: uncompressed or snappy). The key and
    /// value are the top-level `BYTE_ARRAY` columns named by
    /// [`InputOptions::key_column`] and [`InputOptions::value_column`]; a string column
    /// is decoded with the key or value encoding, a binary column is taken as is.
    /// Columns of any other type, and null keys or values, are errors naming the file
    /// (and the row group and row). Read one row group at a time. Not from stdin.
    Parquet,
}

/// What to do when the same key appears more than once in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDuplicate {
    /// Fail the build, naming the key and both places (default).
    #[default]
    Error,
    /// Keep the occurrence that came first in input order.
    First,
    /// Keep the occurrence that came last in input order.
    Last,
}

/// Error of the `FromStr` impls of this module: names the accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {got:?}: expected one of {expected}")]
pub struct ParseOptionError {
    what: &'static str,
    got: String,
    expected: &'static str,
}

macro_rules! names {
    ($ty:ident, $what:literal, $expected:literal, { $($name:literal => $variant:ident),+ $(,)? }) => {
        impl $ty {
            /// Every accepted name, in the spelling `Display` prints.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The canonical lowercase name.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl FromStr for $ty {
            type Err = ParseOptionError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.to_ascii_lowercase().as_str() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(ParseOptionError { what: $what, got: s.to_string(), expected: $expected }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

names!(InputFormat, "input format", "tsv, jsonl, csv, parquet", {
    "tsv" => Tsv, "jsonl" => Jsonl, "csv" => Csv, "parquet" => Parquet
});

impl InputFormat {
    /// True for the formats read as columns (CSV, Parquet), whose directories are
    /// read as a job's output: see [`InputSource::Path`].
    pub fn is_columnar(self) -> bool {
        matches!(self, InputFormat::Csv | InputFormat::Parquet)
    }
}

/// A CSV or Parquet column: by name, or by 0-based position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Column {
    /// The column with this name (CSV: in the header; Parquet: a top-level field).
    Name(String),
    /// The column at this 0-based position.
    Index(usize),
}

impl Column {
    /// Finds the column among `names` (the header or the schema's top-level fields, in
    /// order); `None` when there is no such column.
    pub fn find<S: AsRef<str>>(&self, names: &[S]) -> Option<usize> {
        match self {
            Column::Name(name) => names.iter().position(|n| n.as_ref() == name),
            Column::Index(i) => (*i < names.len()).then_some(*i),
        }
    }
}

/// Digits are an index (`0`, `3`); anything else is a name.
impl FromStr for Column {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(i) if s.bytes().all(|b| b.is_ascii_digit()) => Column::Index(i),
            _ => Column::Name(s.to_string()),
        })
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Name(name) => write!(f, "{name:?}"),
            Column::Index(i) => write!(f, "#{i}"),
        }
    }
}
names!(OnDuplicate, "duplicate policy", "error, first, last", { "error" => Error, "first" => First, "last" => Last });

/// How to parse the input records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputOptions {
    /// File layout.
    pub format: InputFormat,
    /// Encoding of the key field.
    pub key_encoding: Encoding,
    /// Encoding of the value field (JSONL: only when the value is a JSON string).
    pub value_encoding: Encoding,
    /// JSONL field holding the key (default `key`).
    pub key_field: String,
    /// JSONL field holding the value (default `value`).
    pub value_field: String,
    /// CSV or Parquet column holding the key (default the column named `key`).
    pub key_column: Column,
    /// CSV or Parquet column holding the value (default the column named `value`).
    pub value_column: Column,
    /// CSV: the first record is a header naming the columns (default). Without one,
    /// columns can only be given by index.
    pub csv_header: bool,
    /// CSV: the field delimiter (default `,`).
    pub csv_delimiter: u8,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            format: InputFormat::Tsv,
            key_encoding: Encoding::Utf8,
            value_encoding: Encoding::Utf8,
            key_field: "key".to_string(),
            value_field: "value".to_string(),
            key_column: Column::Name("key".to_string()),
            value_column: Column::Name("value".to_string()),
            csv_header: true,
            csv_delimiter: b',',
        }
    }
}

/// Where records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    /// A file, or a directory: every regular file inside, recursively, in name order,
    /// skipping hidden entries (names starting with `.`) and symbolic links to
    /// directories. Files ending `.gz` or `.zst` are decompressed.
    ///
    /// For CSV and Parquet a directory is read as the output of a Spark or Hadoop job:
    /// names starting with `_` (`_SUCCESS`, `_committed_*`, `_metadata`) and names
    /// ending `.crc` are skipped too (Hadoop's rule for hidden files); every other file
    /// must be of the format (a Parquet file is recognised by its `PAR1` magic, and a
    /// file without it is an error naming it, not silently skipped).
    Path(PathBuf),
    /// Standard input, read as is (no decompression).
    Stdin,
}

/// Default memory budget for buffered records: 1 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 1 << 30;

/// Default shard count.
pub const DEFAULT_SHARDS: u32 = 8;

/// Most shards a version may have: 65,536. Each shard is a memory-mapped file on every
/// server that holds it, and a Linux process can map only `vm.max_map_count` regions
/// (65,530 by default), so a version with many more shards could never be served.
pub const MAX_SHARDS: u32 = 65_536;

/// Smallest memory budget: 4 MiB. Every spill writes one run file per non-empty shard
/// buffer, so a budget of a few bytes would write a file every few records.
pub const MIN_MEMORY_BUDGET: u64 = 4 << 20;

/// Why [`MAX_SHARDS`] exists, for errors.
const SHARDS_WHY: &str = "each shard is a memory-mapped file on every server that holds it, \
    and a server can map only vm.max_map_count files";

/// Why [`MIN_MEMORY_BUDGET`] exists, for errors.
const MEMORY_WHY: &str = "every spill writes a run file per shard, so a smaller budget \
    fills the temp dir with tiny files";

/// Checks a shard count against `1..=`[`MAX_SHARDS`]; returns it as a `u32`.
pub fn check_shards(shards: u64) -> Result<u32, WriteError> {
    u32::try_from(shards)
        .ok()
        .filter(|n| (1..=MAX_SHARDS).contains(n))
        .ok_or(WriteError::OutOfRange {
            option: "shards",
            value: shards,
            allowed: format!("1..={MAX_SHARDS}"),
            why: SHARDS_WHY,
        })
}

/// Checks a memory budget (bytes) against [`MIN_MEMORY_BUDGET`].
pub fn check_memory_budget(bytes: u64) -> Result<u64, WriteError> {
    check_memory_budget_at_least(bytes, MIN_MEMORY_BUDGET)
}

/// [`check_memory_budget`] with another floor (tests of spilling use tiny budgets).
pub(crate) fn check_memory_budget_at_least(bytes: u64, floor: u64) -> Result<u64, WriteError> {
    if bytes >= floor.max(1) {
        return Ok(bytes);
    }
    Err(WriteError::OutOfRange {
        option: "memory budget",
        value: bytes,
        allowed: format!("at least {} MiB = {floor} bytes", floor >> 20),
        why: MEMORY_WHY,
    })
}

/// How to build the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Domain the version belongs to.
    pub domain: String,
    /// Number of shards, 1 to [`MAX_SHARDS`]. Default [`DEFAULT_SHARDS`].
    pub shards: u32,
    /// Bytes of records held in memory before sorted runs are spilled to disk.
    /// Default [`DEFAULT_MEMORY_BUDGET`], at least [`MIN_MEMORY_BUDGET`]. See the
    /// crate docs for what is counted.
    pub memory_budget: u64,
    /// Duplicate key policy.
    pub on_duplicate: OnDuplicate,
    /// Where to put spilled runs and built shards (default: the system temp dir).
    pub temp_dir: Option<PathBuf>,
    /// Worker threads for sorting and building; `None` uses rayon's global pool.
    pub threads: Option<usize>,
    /// Extra `writer` metadata for the manifest (added after, and overriding, the
    /// `tool`, `tool_version`, `host` entries the writer fills in).
    pub writer_meta: BTreeMap<String, String>,
    /// Largest accepted value in bytes. Default [`tusk_format::DEFAULT_MAX_VALUE_LEN`].
    pub max_value_len: u64,
    /// The shard file format to write, recorded in the manifest. Default
    /// [`ShardFormat::default`] (`tusk-native-v2`); `tusk-native-v1` is for a
    /// fleet whose servers do not all read version 2 yet.
    pub shard_format: ShardFormat,
}

impl WriteOptions {
    /// Options for `domain` with every other field at its default.
    pub fn new(domain: impl Into<String>) -> Self {
        WriteOptions {
            domain: domain.into(),
            shards: DEFAULT_SHARDS,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            on_duplicate: OnDuplicate::Error,
            temp_dir: None,
            threads: None,
            writer_meta: BTreeMap::new(),
            max_value_len: tusk_format::DEFAULT_MAX_VALUE_LEN,
            shard_format: ShardFormat::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_unknown() {
        assert_eq!("JSONL".parse::<InputFormat>().unwrap(), InputFormat::Jsonl);
        assert_eq!("last".parse::<OnDuplicate>().unwrap(), OnDuplicate::Last);
        assert_eq!(
            "Parquet".parse::<InputFormat>().unwrap(),
            InputFormat::Parquet
        );
        assert_eq!(InputFormat::Csv.to_string(), "csv");
        let err = "xml".parse::<InputFormat>().unwrap_err().to_string();
        assert!(err.contains("\"xml\"") && err.contains("parquet"), "{err}");
    }

    #[test]
    fn columns_are_indexes_when_all_digits() {
        let col = |s: &str| s.parse::<Column>().unwrap();
        assert_eq!(col("0"), Column::Index(0));
        assert_eq!(col("12"), Column::Index(12));
        assert_eq!(col("key"), Column::Name("key".into()));
        assert_eq!(col("+1"), Column::Name("+1".into()), "only plain digits");
        assert_eq!(col("1a"), Column::Name("1a".into()));
        let names = ["id", "key", "value"];
        assert_eq!(col("value").find(&names), Some(2));
        assert_eq!(col("1").find(&names), Some(1));
        assert_eq!(col("3").find(&names), None);
        assert_eq!(col("missing").find(&names), None);
        assert_eq!(col("2").to_string(), "#2");
        assert_eq!(col("k").to_string(), "\"k\"");
    }

    #[test]
    fn shard_counts_are_bounded() {
        assert_eq!(check_shards(1).unwrap(), 1);
        assert_eq!(check_shards(65_536).unwrap(), MAX_SHARDS);
        for bad in [0, 65_537, 100_000, u64::from(u32::MAX), u64::MAX] {
            let err = check_shards(bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("shards = {bad}"))
                    && err.contains("1..=65536")
                    && err.contains("vm.max_map_count"),
                "{err}"
            );
        }
    }

    #[test]
    fn memory_budget_has_a_floor() {
        assert_eq!(check_memory_budget(4 << 20).unwrap(), 4 << 20);
        assert_eq!(check_memory_budget(DEFAULT_MEMORY_BUDGET).unwrap(), 1 << 30);
        for bad in [0, 1, (4 << 20) - 1] {
            let err = check_memory_budget(bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("memory budget = {bad}")) && err.contains("4 MiB"),
                "{err}"
            );
        }
        // Tests of spilling may go lower, never to zero.
        assert!(check_memory_budget_at_least(100, 1).is_ok());
        assert!(check_memory_budget_at_least(0, 0).is_err());
    }
}
