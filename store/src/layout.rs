//! Object keys of the store layout, and name validation.

use crate::{Result, StoreError};

/// `<domain>/versions/`
pub fn versions_prefix(domain: &str) -> String {
    format!("{domain}/versions/")
}

/// `<domain>/versions/<version>/`
pub fn version_prefix(domain: &str, version: &str) -> String {
    format!("{domain}/versions/{version}/")
}

/// `<domain>/versions/<version>/<object>`
pub fn shard_key(domain: &str, version: &str, object: &str) -> String {
    format!("{domain}/versions/{version}/{object}")
}

/// `<domain>/versions/<version>/MANIFEST.json`
pub fn manifest_key(domain: &str, version: &str) -> String {
    format!("{domain}/versions/{version}/MANIFEST.json")
}

/// `<domain>/CURRENT`
pub fn current_key(domain: &str) -> String {
    format!("{domain}/CURRENT")
}

/// `<domain>/history/`
pub fn history_prefix(domain: &str) -> String {
    format!("{domain}/history/")
}

/// `<domain>/history/<seq>.json`, zero-padded so keys sort by sequence.
pub fn history_key(domain: &str, seq: u64) -> String {
    format!("{domain}/history/{seq:010}.json")
}

/// A domain name: 1–128 characters of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn validate_domain(domain: &str) -> Result<()> {
    validate_name("domain name", domain)
}

/// A version id: same character rules as a domain name.
pub fn validate_version(version: &str) -> Result<()> {
    validate_name("version id", version)
}

fn validate_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            what: what.to_string(),
            detail: format!(
                "{name:?}: use 1-128 characters of A-Z a-z 0-9 . _ - (not starting with '.')"
            ),
        })
    }
}
