//! Version ids: sortable UTC timestamp plus a short random suffix,
//! e.g. `20261121T213000Z-7f3a`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A new version id for `now`. The suffix mixes the clock's nanoseconds, the process
/// id and a counter, so two writers in the same second get different ids.
pub fn new_version_id(now: SystemTime) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut seed = [0u8; 20];
    seed[..8].copy_from_slice(&since.as_nanos().to_le_bytes()[..8]);
    seed[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    seed[12..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let suffix = xxhash_rust::xxh3::xxh3_64(&seed) as u16;
    format!("{}-{suffix:04x}", compact_timestamp(now))
}

/// `YYYYMMDDTHHMMSSZ` for `t` (UTC).
pub fn compact_timestamp(t: SystemTime) -> String {
    rfc3339(t).replace(['-', ':'], "")
}

/// RFC 3339 UTC with seconds, e.g. `2026-11-21T21:30:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}
