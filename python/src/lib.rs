//! `tusk._tusk`: the native half of the `tusk` Python package.
//!
//! It exposes tusk's own writer and store, not a reimplementation: the partitioner
//! ([`tusk_format::partition::shard_for`]), the one-shard builder
//! ([`tusk_writer::ShardBuild`], which sorts and spills like `tusk write`), shard
//! upload and the two-phase publish of a version built by many tasks
//! ([`tusk_store::Catalog::begin_publish`], [`tusk_store::PendingPublish::commit`]).
//! The Python side (`python/tusk/`) adds `tusk.spark.write`.
//!
//! Every call that does I/O or heavy work releases the GIL. Store calls run on one
//! process-wide Tokio runtime, created on first use (so a worker process forked
//! before importing the module is safe).

mod convert;
mod publication;
mod shard;

use std::sync::OnceLock;

use pyo3::prelude::*;

pyo3::create_exception!(
    _tusk,
    TuskError,
    pyo3::exceptions::PyException,
    "An error from tusk's writer or store; the message names the place (key, shard, object, store)."
);

/// The process-wide runtime the store calls (and a publish's lease renewals) run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tusk-io")
            .enable_all()
            .build()
            .expect("a Tokio runtime starts (threads and an event loop are available)")
    })
}

/// The shard of `key` (`bytes` or `str`, encoded as UTF-8) in a version of `shards`
/// shards: Spark's `pmod(xxhash64(cast(key as binary)), shards)`.
#[pyfunction]
fn shard_for(key: &Bound<'_, PyAny>, shards: u32) -> PyResult<u32> {
    if shards == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "shards must be at least 1",
        ));
    }
    let key = convert::Key::extract(key, "key")?;
    Ok(tusk_format::partition::shard_for(key.as_bytes(), shards))
}

/// A new version id for a version created now (`YYYYMMDDTHHMMSS.mmmZ-xxxxxxxx`).
#[pyfunction]
fn new_version_id() -> String {
    tusk_store::version_id::new_version_id(std::time::SystemTime::now())
}

#[pymodule]
fn _tusk(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("TuskError", m.py().get_type::<TuskError>())?;
    // The names `shard_format=` takes, oldest first.
    let formats: Vec<&str> = tusk_writer::ShardFormat::ALL
        .iter()
        .map(|f| f.name())
        .collect();
    m.add("SHARD_FORMATS", formats)?;
    m.add_function(wrap_pyfunction!(shard_for, m)?)?;
    m.add_function(wrap_pyfunction!(new_version_id, m)?)?;
    m.add_function(wrap_pyfunction!(shard::upload_shard, m)?)?;
    m.add_class::<shard::ShardBuilder>()?;
    m.add_class::<shard::BuiltShard>()?;
    m.add_class::<publication::Publication>()?;
    Ok(())
}
