//! `Publication`: the driver's half of a version built by many tasks. It holds the
//! version's publish marker from `begin` to `commit` (so gc leaves the uploads
//! alone), then writes the manifest from the tasks' entries and activates.

use std::collections::BTreeMap;
use std::time::Duration;

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tusk_store::{Catalog, MoveOptions, PendingPublish, PublishOptions, ShardEntry};
use tusk_writer::ShardFormat;

use crate::TuskError;
use crate::convert::tusk_error;
use crate::runtime;

/// A publish in progress: begun by [`Publication::begin`], finished by `commit` or
/// `abort`. A driver that dies in between leaves no visible version; its uploads
/// are debris for `tusk gc` once the marker's lease has run out.
#[pyclass(module = "tusk._tusk")]
pub(crate) struct Publication {
    store: String,
    /// The store, opened once at `begin` (for S3, one client for the whole publish).
    catalog: Catalog,
    domain: String,
    version: String,
    pending: Option<PendingPublish>,
}

#[pymethods]
impl Publication {
    /// Begins publishing a new version of `domain` to `store`: picks a version id
    /// and creates the version's publish marker, renewed every third of
    /// `lease_seconds` in the background until `commit` or `abort`.
    #[staticmethod]
    #[pyo3(signature = (store, domain, *, actor=None, lease_seconds=60.0))]
    fn begin(
        py: Python<'_>,
        store: &str,
        domain: &str,
        actor: Option<&str>,
        lease_seconds: f64,
    ) -> PyResult<Publication> {
        if !(lease_seconds.is_finite() && lease_seconds >= 1.0) {
            return Err(PyValueError::new_err(format!(
                "lease_seconds must be at least 1, not {lease_seconds}"
            )));
        }
        let options = PublishOptions::with_lease(Duration::from_secs_f64(lease_seconds));
        let version = tusk_store::version_id::new_version_id(std::time::SystemTime::now());
        let catalog = Catalog::open(store).map_err(tusk_error)?;
        let pending = py
            .detach(|| runtime().block_on(catalog.begin_publish(domain, &version, actor, &options)))
            .map_err(tusk_error)?;
        Ok(Publication {
            store: store.to_string(),
            catalog,
            domain: domain.to_string(),
            version,
            pending: Some(pending),
        })
    }

    /// The store's URL or path, as given.
    #[getter]
    fn store(&self) -> &str {
        &self.store
    }

    /// The domain being published.
    #[getter]
    fn domain(&self) -> &str {
        &self.domain
    }

    /// The version id being published.
    #[getter]
    fn version(&self) -> &str {
        &self.version
    }

    /// Commits the version from `entries` (one dict per shard, as `upload_shard`
    /// returns them, in any order, covering shards `0..n` once each): writes the
    /// manifest, then, with `activate`, moves `CURRENT` to it (checked against the
    /// domain's write policy). `writer` adds writer metadata to the manifest.
    ///
    /// The manifest records the shard format the entries' `shard_format` name
    /// (as `upload_shard` returns them); every entry must name the same one.
    /// `shard_format`, when given, must agree with them; for entries that name none
    /// it says the format (default `tusk-native-v2`). Servers refuse a version whose
    /// shard files are in another format than its manifest says.
    ///
    /// Returns a dict: `domain`, `version`, `shards`, `records`, `bytes`,
    /// `activated`.
    #[pyo3(signature = (entries, *, activate=true, actor=None, reason=None, writer=None, shard_format=None))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn commit<'py>(
        &mut self,
        py: Python<'py>,
        entries: Vec<Bound<'py, PyDict>>,
        activate: bool,
        actor: Option<String>,
        reason: Option<String>,
        writer: Option<BTreeMap<String, String>>,
        shard_format: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let given = shard_format.map(crate::convert::shard_format).transpose()?;
        let shard_format = entries_format(&entries, given)?;
        let shards = entries
            .iter()
            .enumerate()
            .map(|(i, e)| entry_from_dict(i, e))
            .collect::<PyResult<Vec<ShardEntry>>>()?;
        let mut writer = writer.unwrap_or_default();
        if let Some(actor) = &actor {
            writer.entry("actor".to_string()).or_insert(actor.clone());
        }
        let manifest = tusk_writer::manifest_from_entries(
            &self.domain,
            &self.version,
            shard_format,
            shards,
            &writer,
        )
        .map_err(tusk_error)?;
        let pending = self.pending.take().ok_or_else(|| {
            PyValueError::new_err(format!(
                "the publication of version {} is already committed or aborted",
                self.version
            ))
        })?;
        let catalog = &self.catalog;
        let activation = activate.then(|| {
            let actor = actor.unwrap_or_else(|| writer_actor(&writer));
            let reason = reason.unwrap_or_else(|| "published by tusk.spark".to_string());
            MoveOptions::new(actor, reason)
        });
        py.detach(|| {
            runtime().block_on(async {
                pending.commit(&manifest).await.map_err(tusk_error)?;
                let Some(options) = &activation else {
                    return Ok(());
                };
                let activated = catalog
                    .activate_with(&manifest.domain, &manifest.version, options)
                    .await;
                activated.map(drop).map_err(|e| {
                    TuskError::new_err(format!(
                        "version {} of domain {} is published but not current: {}",
                        manifest.version,
                        manifest.domain,
                        crate::convert::error_chain(&e)
                    ))
                })
            })
        })?;
        let out = PyDict::new(py);
        out.set_item("domain", &manifest.domain)?;
        out.set_item("version", &manifest.version)?;
        out.set_item("shards", manifest.shard_count)?;
        out.set_item("records", manifest.records)?;
        out.set_item("bytes", manifest.bytes)?;
        out.set_item("activated", activate)?;
        Ok(out)
    }

    /// Gives the publish up: deletes the marker. Uploads so far are debris for gc.
    /// Does nothing after `commit` or a first `abort`.
    fn abort(&mut self, py: Python<'_>) {
        if let Some(pending) = self.pending.take() {
            py.detach(|| runtime().block_on(pending.abort()));
        }
    }

    fn __repr__(&self) -> String {
        let state = if self.pending.is_some() {
            "open"
        } else {
            "closed"
        };
        format!(
            "Publication(store={:?}, domain={:?}, version={:?}, {state})",
            self.store, self.domain, self.version
        )
    }
}

/// Who activates when the caller does not say: the writer metadata's `actor`, else
/// the user.
fn writer_actor(writer: &BTreeMap<String, String>) -> String {
    writer
        .get("actor")
        .cloned()
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "tusk.spark".to_string())
}

/// A manifest entry as a dict.
pub(crate) fn entry_dict<'py>(py: Python<'py>, entry: &ShardEntry) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("index", entry.index)?;
    d.set_item("object", &entry.object)?;
    d.set_item("bytes", entry.bytes)?;
    d.set_item("records", entry.records)?;
    d.set_item("crc32", entry.crc32)?;
    if let Some(hash) = entry.content_hash {
        d.set_item("content_hash", hash.to_string())?;
    }
    Ok(d)
}

/// The shard format of a commit: the one every entry's `shard_format` names, which
/// `given` (the caller's `shard_format=`) must equal; `given`, else the default,
/// for entries that name none.
fn entries_format(
    entries: &[Bound<'_, PyDict>],
    given: Option<ShardFormat>,
) -> PyResult<ShardFormat> {
    let mut named: Option<(usize, ShardFormat)> = None;
    for (i, entry) in entries.iter().enumerate() {
        let Some(value) = entry.get_item("shard_format")? else {
            continue;
        };
        let text: String = value
            .extract()
            .map_err(|e| PyValueError::new_err(format!("entries[{i}][\"shard_format\"]: {e}")))?;
        let format: ShardFormat = text
            .parse()
            .map_err(|e| PyValueError::new_err(format!("entries[{i}][\"shard_format\"]: {e}")))?;
        match named {
            Some((first, other)) if other != format => {
                return Err(PyValueError::new_err(format!(
                    "entries[{first}] was built in shard format {other} and entries[{i}] in {format}: one version holds one format"
                )));
            }
            Some(_) => {}
            None => named = Some((i, format)),
        }
    }
    match (named, given) {
        (Some((i, built)), Some(given)) if built != given => Err(PyValueError::new_err(format!(
            "shard_format={:?}, but entries[{i}] was built in {built}; build with shard_format={:?} or commit without shard_format",
            given.name(),
            given.name()
        ))),
        (Some((_, built)), _) => Ok(built),
        (None, given) => Ok(given.unwrap_or_default()),
    }
}

/// Entry `i` of a commit's list, with its fields checked by name.
fn entry_from_dict(i: usize, d: &Bound<'_, PyDict>) -> PyResult<ShardEntry> {
    let get = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        d.get_item(name)?
            .ok_or_else(|| PyKeyError::new_err(format!("entries[{i}] has no {name:?}")))
    };
    let bad = |name: &str, e: &dyn std::fmt::Display| {
        PyValueError::new_err(format!("entries[{i}][{name:?}]: {e}"))
    };
    let int =
        |name: &str| -> PyResult<u64> { get(name)?.extract::<u64>().map_err(|e| bad(name, &e)) };
    let text = |name: &str| -> PyResult<String> {
        get(name)?.extract::<String>().map_err(|e| bad(name, &e))
    };
    let small = |name: &str| -> PyResult<u32> {
        u32::try_from(int(name)?)
            .map_err(|_| PyValueError::new_err(format!("entries[{i}][{name:?}] is out of range")))
    };
    Ok(ShardEntry {
        index: small("index")?,
        object: text("object")?,
        bytes: int("bytes")?,
        records: int("records")?,
        crc32: small("crc32")?,
        content_hash: Some(
            text("content_hash")?
                .parse()
                .map_err(|e: String| bad("content_hash", &e))?,
        ),
    })
}
