//! The kernel's limit on memory maps: refuse a version whose shards would not fit.
//!
//! Every shard a server holds is one memory map, and Linux lets a process hold at most
//! `vm.max_map_count` maps (65,530 by default). Past it, `mmap` fails, and so do the
//! allocator and new threads, which need maps of their own. So before a version is
//! downloaded the loader checks that the maps the process holds now (every version of
//! every domain it serves, plus libraries, heap and thread stacks, counted from
//! `/proc/self/maps`), plus one per shard of the new version, plus [`MAP_MARGIN`], stay
//! within the limit; otherwise the load fails with an error that says which sysctl to
//! raise, and to what. Without `/proc/sys/vm/max_map_count` (not Linux) nothing is
//! checked.
//!
//! The decision, [`check`], is a pure function; the two file reads are at the edge.

use std::path::Path;

use tusk_store::Manifest;

/// Maps kept free beyond the shards: for the allocator, thread stacks, libraries
/// loaded later, and versions other domains load at the same time.
pub const MAP_MARGIN: u64 = 1024;

/// Where Linux publishes the limit.
const LIMIT_FILE: &str = "/proc/sys/vm/max_map_count";

/// One line per map of this process.
const MAPS_FILE: &str = "/proc/self/maps";

/// Loading a version would pass `vm.max_map_count`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "version {version} of {domain} has {new} shards to map, and this process already holds \
     {mapped} memory maps: with a margin of {MAP_MARGIN} that needs {needed}, over \
     vm.max_map_count = {limit}; raise it, e.g. `sysctl -w vm.max_map_count={suggested}` \
     (and in /etc/sysctl.d/ to keep it), or publish the domain with fewer shards"
)]
pub struct MapLimitError {
    /// The domain.
    pub domain: String,
    /// The version refused.
    pub version: String,
    /// Shards of the version this node would map.
    pub new: u64,
    /// Maps the process holds now.
    pub mapped: u64,
    /// `mapped + new + MAP_MARGIN`.
    pub needed: u64,
    /// The kernel's `vm.max_map_count`.
    pub limit: u64,
    /// A value to raise the limit to: `needed` rounded up to a multiple of 65,536.
    pub suggested: u64,
}

/// What a check compares: the limit (`None`: unknown, no check), the maps held now
/// and the maps the new version adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapCounts {
    /// `vm.max_map_count`, if known.
    pub limit: Option<u64>,
    /// Maps the process holds now.
    pub mapped: u64,
    /// Shards of the new version this node would map.
    pub new: u64,
}

/// Decides whether a version of `domain` with `counts.new` shards to map may load.
pub fn check(domain: &str, version: &str, counts: MapCounts) -> Result<(), MapLimitError> {
    let Some(limit) = counts.limit else {
        return Ok(());
    };
    let needed = counts
        .mapped
        .saturating_add(counts.new)
        .saturating_add(MAP_MARGIN);
    if needed <= limit {
        return Ok(());
    }
    Err(MapLimitError {
        domain: domain.to_string(),
        version: version.to_string(),
        new: counts.new,
        mapped: counts.mapped,
        needed,
        limit,
        suggested: needed.div_ceil(65_536).saturating_mul(65_536),
    })
}

/// Reads the limit and the maps held now, and checks whether `owned` shards of
/// `manifest` fit. Called before a version is downloaded.
pub(crate) async fn check_room(manifest: &Manifest, owned: usize) -> Result<(), MapLimitError> {
    let counts = MapCounts {
        limit: read_limit(Path::new(LIMIT_FILE)).await,
        mapped: count_maps(Path::new(MAPS_FILE)).await,
        new: owned as u64,
    };
    check(&manifest.domain, &manifest.version, counts)
}

/// `vm.max_map_count` from `path`; `None` when it is absent or unreadable.
async fn read_limit(path: &Path) -> Option<u64> {
    let text = tokio::fs::read_to_string(path).await.ok()?;
    match text.trim().parse() {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot parse the map limit; not checking it");
            None
        }
    }
}

/// Lines of `path` (`/proc/self/maps`: one per map); 0 when unreadable.
async fn count_maps(path: &Path) -> u64 {
    match tokio::fs::read(path).await {
        Ok(bytes) => bytes.iter().filter(|&&b| b == b'\n').count() as u64,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(limit: Option<u64>, mapped: u64, new: u64) -> MapCounts {
        MapCounts { limit, mapped, new }
    }

    #[test]
    fn a_version_that_fits_with_the_margin_loads() {
        assert_eq!(check("d", "v", counts(Some(65_530), 300, 8)), Ok(()));
        // Exactly at the limit, margin included.
        assert_eq!(
            check(
                "d",
                "v",
                counts(Some(65_530), 300, 65_530 - 300 - MAP_MARGIN)
            ),
            Ok(())
        );
    }

    #[test]
    fn a_version_past_the_limit_is_refused_saying_what_to_raise() {
        let err = check("pages", "v2", counts(Some(65_530), 300, 65_536)).unwrap_err();
        assert_eq!(err.needed, 300 + 65_536 + MAP_MARGIN);
        assert_eq!(err.suggested, 131_072);
        let text = err.to_string();
        for part in [
            "version v2 of pages",
            "65536 shards",
            "300 memory maps",
            "vm.max_map_count = 65530",
            "sysctl -w vm.max_map_count=131072",
        ] {
            assert!(text.contains(part), "{part:?} missing: {text}");
        }
        // One map over, counting the margin.
        let over = 65_530 - 300 - MAP_MARGIN + 1;
        assert!(check("d", "v", counts(Some(65_530), 300, over)).is_err());
    }

    #[test]
    fn versions_already_held_count() {
        // Two held versions of 20,000 shards leave no room for a third.
        assert!(check("d", "v", counts(Some(65_530), 40_300, 20_000)).is_ok());
        assert!(check("d", "v", counts(Some(65_530), 60_300, 20_000)).is_err());
    }

    #[test]
    fn an_unknown_limit_checks_nothing() {
        assert_eq!(check("d", "v", counts(None, u64::MAX, u64::MAX)), Ok(()));
    }

    #[tokio::test]
    async fn the_edge_reads_the_limit_and_counts_maps() {
        let dir = tempfile::tempdir().unwrap();
        let limit = dir.path().join("max_map_count");
        assert_eq!(read_limit(&limit).await, None, "absent file: no check");
        std::fs::write(&limit, "65530\n").unwrap();
        assert_eq!(read_limit(&limit).await, Some(65_530));
        std::fs::write(&limit, "lots\n").unwrap();
        assert_eq!(read_limit(&limit).await, None);
        let maps = dir.path().join("maps");
        std::fs::write(&maps, "a\nb\nc\n").unwrap();
        assert_eq!(count_maps(&maps).await, 3);
        assert_eq!(count_maps(&dir.path().join("none")).await, 0);
        if Path::new(MAPS_FILE).exists() {
            assert!(count_maps(Path::new(MAPS_FILE)).await > 0);
        }
    }
}
