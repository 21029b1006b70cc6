//! Running store operations concurrently, a bounded number at a time.

use std::future::Future;

use tokio::task::JoinSet;

use crate::{Result, StoreError};

/// Runs every task, at most `limit` at once, and stops at the first error (tasks still
/// in flight are aborted when the set is dropped). A task that panics re-raises its
/// panic; one that is cancelled becomes an error naming `what`.
pub(super) async fn run_bounded<F>(
    tasks: impl IntoIterator<Item = F>,
    limit: usize,
    what: &str,
) -> Result<()>
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for task in tasks {
        while set.len() >= limit.max(1) {
            join_one(&mut set, what).await?;
        }
        set.spawn(task);
    }
    while !set.is_empty() {
        join_one(&mut set, what).await?;
    }
    Ok(())
}

async fn join_one(set: &mut JoinSet<Result<()>>, what: &str) -> Result<()> {
    match set.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Some(Err(e)) => Err(StoreError::Io {
            path: what.to_string(),
            source: std::io::Error::other(e.to_string()),
        }),
        None => Ok(()),
    }
}
