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
    format!("{domain}/versions/{version}/{MANIFEST}")
}

/// File name of a version's manifest.
pub const MANIFEST: &str = "MANIFEST.json";

/// Name of the publish marker inside a version directory: see [`publish_marker_key`].
pub const PUBLISH_MARKER: &str = "PUBLISHING.json";

/// `<domain>/versions/<version>/PUBLISHING.json`: a publish in progress announces
/// itself here (create-only, renewed as a lease) before it uploads anything, and
/// removes it once `MANIFEST.json` is written. gc leaves a directory alone while its
/// marker is live.
pub fn publish_marker_key(domain: &str, version: &str) -> String {
    format!("{domain}/versions/{version}/{PUBLISH_MARKER}")
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

/// `<domain>/policy/`
pub fn policy_prefix(domain: &str) -> String {
    format!("{domain}/policy/")
}

/// `<domain>/policy/<seq>.json`, zero-padded so keys sort by sequence.
pub fn policy_key(domain: &str, seq: u64) -> String {
    format!("{domain}/policy/{seq:010}.json")
}

/// A domain name: 1–128 characters of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn validate_domain(domain: &str) -> Result<()> {
    validate_name("domain name", domain)
}

/// A version id: same character rules as a domain name. Generated ids of both forms
/// pass (`20261121T213000123Z-7f3a`, and `20261121T213000Z-7f3a` from earlier builds;
/// see [`crate::version_id`] for how they sort), and so does any other such name.
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

/// Checks a store key (or, with `is_prefix`, a list prefix, which may be empty or end in
/// `/` or in a partial name): no leading `/`, no `\\` or NUL, no empty segment, no
/// segment starting with `.`. Every backend applies the same rules, so a store can move
/// between backends, and dot-names stay free for a backend's own temp and lock files.
pub(crate) fn validate_key(key: &str, is_prefix: bool) -> Result<()> {
    let bad = |why: &str| StoreError::Invalid {
        what: if is_prefix {
            "list prefix"
        } else {
            "object key"
        }
        .to_string(),
        detail: format!("{key:?}: {why}"),
    };
    if key.starts_with('/') {
        return Err(bad("must not start with '/'"));
    }
    if key.contains(['\\', '\0']) {
        return Err(bad("must not contain '\\' or NUL"));
    }
    let segments: Vec<&str> = key.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() && !(is_prefix && i == last) {
            return Err(bad("empty path segment"));
        }
        if seg.starts_with('.') {
            return Err(bad(
                "path segments must not start with '.' (no '.', '..' or hidden names)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        for good in ["a", "a/b", "d/versions/v1/MANIFEST.json", "x..y/z"] {
            validate_key(good, false).unwrap_or_else(|e| panic!("{good:?} rejected: {e}"));
        }
        for bad in [
            "",
            "/a",
            "a//b",
            "a/",
            "..",
            "a/../b",
            "./a",
            "a/.hidden",
            "a\\b",
        ] {
            let err = validate_key(bad, false).expect_err(bad);
            assert_eq!(err.kind(), crate::ErrorKind::Invalid, "{bad:?}: {err}");
        }
        for good in ["", "a/", "a/b", "a/par"] {
            validate_key(good, true).unwrap_or_else(|e| panic!("prefix {good:?} rejected: {e}"));
        }
        for bad in ["/", "a//", "../", "a/.."] {
            validate_key(bad, true).expect_err(bad);
        }
    }
}
