//! Repairs the scrubber asks for: one damaged shard of a held version downloaded
//! again into a new file, then that version swapped for the repaired one.

use std::sync::Arc;

use crate::domain::ShardRef;
use crate::error::LoadError;
use crate::loaded::LoadedVersion;

use super::{Loader, Running};

impl Loader {
    /// Starts the next repair the scrubber asked for, unless one runs.
    pub(super) fn start_repair(&mut self) {
        if self.repair.is_some() {
            return;
        }
        while let Some(at) = self.domain.next_repair() {
            let held = self.domain.held_full();
            let Some(loaded) = held.as_ref().and_then(|h| h.find(&at.version)) else {
                // No longer held: nothing serves the damaged file any more.
                self.domain.repair_finished(&at);
                continue;
            };
            tracing::info!(domain = %self.domain.name(), version = %at.version, shard = at.shard,
                "downloading a damaged shard again");
            let handle = tokio::spawn(self.fetcher.clone().repair(Arc::clone(loaded), at.shard));
            self.repair = Some(Running { key: at, handle });
            return;
        }
    }

    pub(super) fn repaired(&mut self, at: ShardRef, result: Result<Arc<LoadedVersion>, LoadError>) {
        let name = self.domain.name().to_string();
        match result {
            Ok(loaded) => {
                let object = loaded
                    .shard(at.shard)
                    .map(|s| s.entry().object.clone())
                    .unwrap_or_default();
                let note = format!(
                    "{}: shard {} ({object}) repaired: it no longer matched its manifest and was downloaded again",
                    at.version, at.shard
                );
                if self.domain.repaired(loaded, note) {
                    self.metrics.shard_repaired(&name);
                    tracing::info!(domain = %name, version = %at.version, shard = at.shard, object = %object,
                        "damaged shard downloaded again and swapped in");
                }
            }
            Err(e) => {
                tracing::warn!(domain = %name, version = %at.version, shard = at.shard, error = %e,
                    "cannot download a damaged shard again; the next scrub or damaged read retries");
                self.domain.stored_shard_bad(format!(
                    "repair of shard {} of {} failed: {e}",
                    at.shard, at.version
                ));
            }
        }
        self.domain.repair_finished(&at);
    }
}
