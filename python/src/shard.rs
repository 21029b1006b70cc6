//! `ShardBuilder`, `BuiltShard` and `upload_shard`: what each task of a distributed
//! job runs to build and upload the one shard it owns.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyDict;
use tusk_writer::{OnDuplicate, ShardBuild, WriteOptions};

use crate::convert::{Key, tusk_error};
use crate::runtime;

/// Builds shard `index` of a version of `shards` shards of `domain` from
/// `(key, value)` records added in any order. Sorts and spills sorted runs to
/// `temp_dir` past `memory_budget` bytes, like `tusk write`. Every key must belong
/// to this shard (`shard_for(key, shards) == index`).
#[pyclass(module = "tusk._tusk")]
pub(crate) struct ShardBuilder {
    build: Option<ShardBuild>,
}

impl ShardBuilder {
    fn build(&mut self) -> PyResult<&mut ShardBuild> {
        self.build.as_mut().ok_or_else(finished)
    }

    fn build_ref(&self) -> PyResult<&ShardBuild> {
        self.build.as_ref().ok_or_else(finished)
    }
}

/// The error of a call on a builder after `finish`.
fn finished() -> PyErr {
    PyValueError::new_err("this ShardBuilder is finished")
}

#[pymethods]
impl ShardBuilder {
    #[new]
    #[pyo3(signature = (domain, index, shards, *, memory_budget=None, on_duplicate="error", max_value_len=None, temp_dir=None, shard_format=None))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        domain: &str,
        index: u32,
        shards: u32,
        memory_budget: Option<u64>,
        on_duplicate: &str,
        max_value_len: Option<u64>,
        temp_dir: Option<PathBuf>,
        shard_format: Option<&str>,
    ) -> PyResult<Self> {
        let mut opts = WriteOptions::new(domain);
        opts.shards = shards;
        opts.threads = Some(1);
        opts.on_duplicate = on_duplicate
            .parse::<OnDuplicate>()
            .map_err(|e| PyValueError::new_err(format!("on_duplicate: {e}")))?;
        if let Some(budget) = memory_budget {
            opts.memory_budget = budget;
        }
        if let Some(max) = max_value_len {
            opts.max_value_len = max;
        }
        opts.temp_dir = temp_dir;
        if let Some(name) = shard_format {
            opts.shard_format = crate::convert::shard_format(name)?;
        }
        let build = ShardBuild::new(index, &opts).map_err(tusk_error)?;
        Ok(ShardBuilder { build: Some(build) })
    }

    /// The shard being built.
    #[getter]
    fn index(&self) -> PyResult<u32> {
        Ok(self.build_ref()?.index())
    }

    /// Records added so far.
    #[getter]
    fn added(&self) -> PyResult<u64> {
        Ok(self.build_ref()?.added())
    }

    /// Adds one record; `key` and `value` are `bytes` or `str` (UTF-8).
    fn add(&mut self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let key = Key::extract(key, "key")?;
        let value = Key::extract(value, "value")?;
        self.build()?
            .add(key.as_bytes(), value.as_bytes())
            .map_err(tusk_error)
    }

    /// Adds `length` records from two Arrow binary columns given by their buffers:
    /// each column's offsets buffer (`int32`, or `int64` when `large`) and data
    /// buffer, starting at row `offset` (the arrays' own offset). Neither column
    /// may have nulls (the caller checks). One call per batch, with the GIL released.
    #[pyo3(signature = (key_offsets, key_data, value_offsets, value_data, offset, length, large=false))]
    #[allow(clippy::too_many_arguments)]
    fn add_arrow_columns(
        &mut self,
        py: Python<'_>,
        key_offsets: PyBackedBytes,
        key_data: PyBackedBytes,
        value_offsets: PyBackedBytes,
        value_data: PyBackedBytes,
        offset: usize,
        length: usize,
        large: bool,
    ) -> PyResult<u64> {
        let keys = BinaryColumn::new("key", &key_offsets, &key_data, offset, length, large)?;
        let values =
            BinaryColumn::new("value", &value_offsets, &value_data, offset, length, large)?;
        let build = self.build()?;
        py.detach(|| {
            for row in 0..length {
                build
                    .add(keys.get(row), values.get(row))
                    .map_err(tusk_error)?;
            }
            Ok(length as u64)
        })
    }

    /// Sorts and merges what was added into the shard file; the builder cannot be
    /// used after.
    fn finish(&mut self, py: Python<'_>) -> PyResult<BuiltShard> {
        let build = self.build.take().ok_or_else(finished)?;
        let built = py.detach(|| build.finish().map_err(tusk_error))?;
        Ok(BuiltShard { built })
    }
}

/// One Arrow binary column over its offsets and data buffers.
struct BinaryColumn<'a> {
    offsets: Vec<usize>,
    data: &'a [u8],
}

impl<'a> BinaryColumn<'a> {
    /// Reads and checks the `length + 1` offsets from row `offset`: they must not
    /// decrease and must stay within `data`.
    fn new(
        what: &str,
        offsets: &[u8],
        data: &'a [u8],
        offset: usize,
        length: usize,
        large: bool,
    ) -> PyResult<Self> {
        let width = if large { 8 } else { 4 };
        let needed = (offset + length + 1) * width;
        if offsets.len() < needed {
            return Err(PyValueError::new_err(format!(
                "{what} column: an offsets buffer of {} bytes is too short for rows {offset}..{}",
                offsets.len(),
                offset + length
            )));
        }
        let read = |i: usize| -> i64 {
            let at = i * width;
            if large {
                i64::from_le_bytes(offsets[at..at + 8].try_into().expect("8 bytes"))
            } else {
                i64::from(i32::from_le_bytes(
                    offsets[at..at + 4].try_into().expect("4 bytes"),
                ))
            }
        };
        let mut out = Vec::with_capacity(length + 1);
        let mut last = 0usize;
        for i in offset..=offset + length {
            let at = usize::try_from(read(i)).ok().filter(|&at| at <= data.len());
            match at {
                Some(at) if out.is_empty() || at >= last => {
                    out.push(at);
                    last = at;
                }
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "{what} column: offset {} of row {} is out of order or past the data buffer of {} bytes",
                        read(i),
                        i,
                        data.len()
                    )));
                }
            }
        }
        Ok(BinaryColumn { offsets: out, data })
    }

    fn get(&self, row: usize) -> &[u8] {
        &self.data[self.offsets[row]..self.offsets[row + 1]]
    }
}

/// A built shard file, not yet uploaded; deleted when the object is.
#[pyclass(module = "tusk._tusk", frozen)]
pub(crate) struct BuiltShard {
    built: tusk_writer::BuiltShard,
}

impl BuiltShard {
    fn built(&self) -> &tusk_writer::BuiltShard {
        &self.built
    }
}

#[pymethods]
impl BuiltShard {
    /// The shard's index in its version.
    #[getter]
    fn index(&self) -> u32 {
        self.built().index
    }

    /// Records in the shard file.
    #[getter]
    fn records(&self) -> u64 {
        self.built().summary.records
    }

    /// Size of the shard file in bytes.
    #[getter]
    fn bytes(&self) -> u64 {
        self.built().summary.bytes
    }

    /// CRC32 of the shard file.
    #[getter]
    fn crc32(&self) -> u32 {
        self.built().summary.crc32
    }

    /// Content hash of the shard file, as the manifest records it
    /// (`"xxh3-128:"` and 32 hex digits).
    #[getter]
    fn content_hash(&self) -> String {
        tusk_store::ContentHash(self.built().summary.content_hash).to_string()
    }

    /// Records added to the build (before duplicates were dropped).
    #[getter]
    fn records_in(&self) -> u64 {
        self.built().records_in
    }

    /// Records dropped by `on_duplicate="first"` or `"last"`.
    #[getter]
    fn duplicates_dropped(&self) -> u64 {
        self.built().duplicates_dropped
    }

    /// Sorted runs spilled to disk while building.
    #[getter]
    fn spilled_runs(&self) -> u64 {
        self.built().spilled_runs
    }

    /// The shard format the file is in: `"tusk-native-v2"` or `"tusk-native-v1"`.
    #[getter]
    fn shard_format(&self) -> &'static str {
        self.built().format.name()
    }

    /// Path of the shard file (in a temporary directory).
    #[getter]
    fn path(&self) -> PathBuf {
        self.built().path().to_path_buf()
    }

    fn __repr__(&self) -> String {
        let b = self.built();
        format!(
            "BuiltShard(index={}, records={}, bytes={}, crc32={:#010x})",
            b.index, b.summary.records, b.summary.bytes, b.summary.crc32
        )
    }
}

/// Uploads `shard` to the store at `store` (a path, `file://` or `s3://` URL) as
/// object `object` of `version` of `domain`, and returns its manifest entry as a
/// dict: `index`, `object`, `bytes`, `records`, `crc32`, `content_hash`, and the
/// `shard_format` the file is in (which `Publication.commit` records). Nothing becomes visible
/// until the version's `Publication` commits a manifest naming it.
#[pyfunction]
pub(crate) fn upload_shard<'py>(
    py: Python<'py>,
    store: &str,
    domain: &str,
    version: &str,
    object: &str,
    shard: &BuiltShard,
) -> PyResult<Bound<'py, PyDict>> {
    let built = shard.built();
    let entry = built.entry(object);
    py.detach(|| {
        runtime().block_on(async {
            let catalog = tusk_store::Catalog::open(store)?;
            catalog
                .upload_shard(domain, version, object, built.path(), entry.crc32)
                .await
        })
    })
    .map_err(tusk_error)?;
    let dict = crate::publication::entry_dict(py, &entry)?;
    dict.set_item("shard_format", built.format.name())?;
    Ok(dict)
}
