//! Opening a store for a command: read-only and pointer commands never create a
//! store (a mistyped path must not leave a directory behind), and a mistyped domain
//! fails, naming the domains the store holds.

use std::path::PathBuf;

/// The directory of a local store URL (`file:///abs/path`, `file://localhost/abs`, or
/// a bare path), or `None` for any other scheme (`s3://`).
pub fn local_store_dir(url: &str) -> Option<PathBuf> {
    match url.split_once("://") {
        None => Some(PathBuf::from(url)),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("file") => Some(PathBuf::from(
            rest.strip_prefix("localhost").unwrap_or(rest),
        )),
        Some(_) => None,
    }
}

/// Why a local store at `url` cannot be used by a command that must not create it,
/// given whether its directory `exists`; `None` when it can (or is not local).
pub fn missing_store(url: &str, exists: impl FnOnce(&std::path::Path) -> bool) -> Option<String> {
    let dir = local_store_dir(url)?;
    if dir.as_os_str().is_empty() || exists(&dir) {
        return None;
    }
    Some(format!(
        "no store at {url} (this command never creates one; `tusk write` does)"
    ))
}

/// Whether the object keys `keys` of `domain/` make a domain: a `CURRENT` or
/// something under `versions/` (the rule of `Catalog::domains`), or a write policy
/// (`tusk policy set` may come before the first version).
pub fn holds_domain<'a>(domain: &str, keys: impl IntoIterator<Item = &'a str>) -> bool {
    keys.into_iter().any(|key| {
        key.strip_prefix(domain)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| {
                rest == "CURRENT" || rest.starts_with("versions/") || rest.starts_with("policy/")
            })
    })
}

/// The error for a domain the store at `url` does not hold, listing `known`.
pub fn unknown_domain(domain: &str, url: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("unknown domain '{domain}' in {url}: the store holds no domain yet")
    } else {
        format!(
            "unknown domain '{domain}' in {url}; known: {}",
            known.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_urls_name_their_directory() {
        assert_eq!(local_store_dir("./store"), Some(PathBuf::from("./store")));
        assert_eq!(
            local_store_dir("file:///srv/t"),
            Some(PathBuf::from("/srv/t"))
        );
        assert_eq!(
            local_store_dir("FILE://localhost/srv/t"),
            Some(PathBuf::from("/srv/t"))
        );
        assert_eq!(local_store_dir("s3://bucket/prefix"), None);
    }

    #[test]
    fn a_missing_local_store_is_refused_and_others_pass() {
        let msg = missing_store("./nostore", |_| false).expect("refused");
        assert!(msg.starts_with("no store at ./nostore"), "{msg}");
        assert_eq!(missing_store("./store", |_| true), None);
        assert_eq!(missing_store("s3://b/p", |_| false), None);
        // An empty path is left to the store's own error.
        assert_eq!(missing_store("", |_| false), None);
    }

    #[test]
    fn a_domain_is_what_has_versions_or_a_current() {
        assert!(holds_domain("pages", ["pages/CURRENT"]));
        assert!(holds_domain(
            "pages",
            ["pages/policy/1.json", "pages/versions/v/MANIFEST.json"]
        ));
        assert!(holds_domain("pages", ["pages/policy/1.json"]));
        assert!(!holds_domain("pages", ["pages/history/1.json"]));
        assert!(!holds_domain("pages", ["pagesx/CURRENT"]));
        assert!(!holds_domain("pages", []));
    }

    #[test]
    fn unknown_domains_list_the_known_ones() {
        let known = ["pages".to_string(), "users".to_string()];
        assert_eq!(
            unknown_domain("pagez", "./store", &known),
            "unknown domain 'pagez' in ./store; known: pages, users"
        );
        assert!(unknown_domain("pagez", "./store", &[]).contains("no domain yet"));
    }
}
