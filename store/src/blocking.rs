//! Blocking file work run off the async workers, the one way the store does it.

use std::fmt::Display;

use crate::{Result, StoreError};

/// Runs `work` on tokio's blocking pool. A panic in it is raised again here; a task
/// that never completed (the runtime is shutting down) is an error naming `what`.
pub(crate) async fn run_blocking<T: Send + 'static>(
    what: impl Display,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::Io {
            path: what.to_string(),
            source: std::io::Error::other(format!("blocking task did not complete: {e}")),
        }),
    }
}
