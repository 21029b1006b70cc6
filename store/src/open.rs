//! Opening a store from its URL.

use std::sync::Arc;

use crate::{ObjectStore, Result};

/// Opens the store at `url`: `file:///abs/path` or a bare path (the local-directory
/// store). Unknown schemes are an `Invalid` error that lists the supported ones.
pub fn open_store(url: &str) -> Result<Arc<dyn ObjectStore>> {
    let _ = url;
    todo!("store: open_store")
}
