//! Polling `CURRENT`: what it names, or why the store cannot be read (reported in
//! status, the log and `tusk_store_errors_total`; the served version stays).

use tusk_store::CurrentPoll;

use super::{Loader, plan};

impl Loader {
    /// Reads `CURRENT` (conditionally) and records what it names, or the error.
    pub(super) async fn poll(&mut self) {
        let name = self.domain.name().to_string();
        let problem = match self.catalog.poll_current(&name, self.etag.as_deref()).await {
            Ok(CurrentPoll::Unchanged) => {
                self.current_known = true;
                self.domain.polled(None);
                None
            }
            Ok(CurrentPoll::Changed {
                current: Some(current),
                etag,
            }) => {
                self.etag = etag;
                self.current_known = true;
                self.current_seen = true;
                self.domain.polled(Some(Some(current.version)));
                None
            }
            Ok(CurrentPoll::Changed { current: None, .. }) => {
                self.etag = None;
                self.current_known = true;
                self.domain.polled(Some(None));
                let holds = self.domain.held_full().is_some() || !self.local.is_empty();
                if plan::missing_current_is_error(self.current_seen, holds) {
                    Some(format!(
                        "CURRENT of {name} is missing from {} though this node served the domain: \
                         was the store root or the domain deleted? keeping the served version",
                        self.catalog.url()
                    ))
                } else {
                    if self.domain.held_full().is_none() {
                        self.domain
                            .noted("the store has no CURRENT for this domain yet".into());
                    }
                    None
                }
            }
            Err(e) => Some(format!(
                "cannot read CURRENT of {name} from {}: {e}; keeping the served version",
                self.catalog.url()
            )),
        };
        let Some(message) = problem else {
            if self.domain.store_ok() {
                tracing::info!(domain = %name, "store readable again");
            }
            return;
        };
        {
            self.metrics.store_error(&name);
            if self.domain.store_failed(message.clone()) {
                tracing::warn!(domain = %name, error = %message, "store cannot be read");
            } else {
                tracing::debug!(domain = %name, error = %message, "store still cannot be read");
            }
        }
    }
}
