//! Opening a store for a command: read-only and pointer commands never create a
//! store (a mistyped path must not leave a directory behind), and a mistyped domain
//! fails, naming the domains the store holds.

/// The error for a local store at `url` that does not exist.
pub fn missing_store(url: &str) -> String {
    format!("no store at {url} (this command never creates one; `tusk write` does)")
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
    fn unknown_domains_list_the_known_ones() {
        let known = ["pages".to_string(), "users".to_string()];
        assert_eq!(
            unknown_domain("pagez", "./store", &known),
            "unknown domain 'pagez' in ./store; known: pages, users"
        );
        assert!(unknown_domain("pagez", "./store", &[]).contains("no domain yet"));
    }
}
