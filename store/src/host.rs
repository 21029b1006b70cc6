//! The name of the machine this process runs on, for records that say who did
//! something (history records, publish markers, lock files, manifests).

/// Best-effort host name: `/etc/hostname`, else `$HOSTNAME`; `None` when neither
/// gives a non-empty name.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
