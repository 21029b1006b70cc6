//! Conversions at the Python boundary: keys and values in, errors out.

use std::error::Error;

use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};

use crate::TuskError;

/// Key or value bytes borrowed from a Python `bytes`, `bytearray` or `str`
/// (UTF-8).
pub(crate) enum Key {
    Bytes(PyBackedBytes),
    Str(PyBackedStr),
}

impl Key {
    /// Extracts `obj`; an error names `what` (`key`, `value`) and the type given.
    pub(crate) fn extract(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Key> {
        if let Ok(bytes) = obj.extract::<PyBackedBytes>() {
            return Ok(Key::Bytes(bytes));
        }
        if let Ok(text) = obj.extract::<PyBackedStr>() {
            return Ok(Key::Str(text));
        }
        let type_name = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".to_string());
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{what} must be bytes or str, not {type_name}"
        )))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Bytes(b) => b,
            Key::Str(s) => s.as_bytes(),
        }
    }
}

/// The shard format named `name` (`shard_format=`), or a `ValueError` naming the
/// known ones.
pub(crate) fn shard_format(name: &str) -> PyResult<tusk_writer::ShardFormat> {
    name.parse()
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("shard_format: {e}")))
}

/// A tusk error as a `TuskError` whose message carries the whole cause chain.
pub(crate) fn tusk_error(e: impl Error) -> PyErr {
    TuskError::new_err(error_chain(&e))
}

/// `e`'s message followed by each cause not already in it, `: `-separated.
pub(crate) fn error_chain(e: &dyn Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
