//! The threads that sort, spill and build: rayon's global pool, or a dedicated one.

use crate::error::{Result, WriteError};

/// Runs parallel work on a dedicated pool when one was asked for. Clones share it.
#[derive(Clone)]
pub(crate) struct Pool(Option<std::sync::Arc<rayon::ThreadPool>>);

impl Pool {
    pub(crate) fn new(threads: Option<usize>) -> Result<Self> {
        let Some(threads) = threads else {
            return Ok(Pool(None));
        };
        if threads == 0 {
            return Err(WriteError::InvalidOptions(
                "threads must be at least 1".into(),
            ));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("tusk-writer-{i}"))
            .build()
            .map(|p| Pool(Some(std::sync::Arc::new(p))))
            .map_err(|e| WriteError::ThreadPool {
                threads,
                detail: e.to_string(),
            })
    }

    /// Runs `f` so that rayon calls inside it use this pool.
    pub(crate) fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.0 {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Runs `f` on one of this pool's threads, without waiting for it.
    pub(crate) fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        match &self.0 {
            Some(pool) => pool.spawn(f),
            None => rayon::spawn(f),
        }
    }

    /// Number of threads work is spread over.
    pub(crate) fn threads(&self) -> usize {
        match &self.0 {
            Some(pool) => pool.current_num_threads(),
            None => rayon::current_num_threads(),
        }
    }
}
