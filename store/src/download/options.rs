//! What a caller tunes about a download, and what it reports back.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::RateLimiter;

/// Default bytes per ranged read (8 MiB: AWS's guidance is 8–16 MiB parts).
pub const DEFAULT_CHUNK_SIZE: u64 = 8 << 20;
/// Default ranged reads in flight at once for one object.
pub const DEFAULT_PARALLEL_RANGES: usize = 4;

/// How [`crate::download_verified`] fetches an object.
///
/// `rate_limiter` and `range_permits` are meant to be shared (one of each per
/// server) so that all downloads together stay under one byte rate and one number
/// of in-flight requests, and serving is never starved.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Bytes per ranged read; also the unit of resume (a chunk is either verified
    /// on disk or fetched again). Changing it between attempts restarts a download.
    pub chunk_size: u64,
    /// Ranged reads of this object in flight at once (0 counts as 1).
    pub parallel_ranges: usize,
    /// Shared byte-rate limit, taken before each ranged read.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// Shared limit of ranged reads in flight across every download using it; a
    /// permit is held from the request until its bytes have arrived.
    pub range_permits: Option<Arc<Semaphore>>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            parallel_ranges: DEFAULT_PARALLEL_RANGES,
            rate_limiter: None,
            range_permits: None,
        }
    }
}

/// What a successful download did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DownloadReport {
    /// Bytes fetched from the store by this call.
    pub fetched_bytes: u64,
    /// Bytes kept from an earlier attempt (verified chunks of a `.part` file, or a
    /// complete destination file that already matched), re-checked on local disk
    /// instead of fetched.
    pub reused_bytes: u64,
}
