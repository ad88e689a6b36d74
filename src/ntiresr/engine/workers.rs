//! The threads one upscaler runs on: a single pool, kept from frame to frame (so that the
//! network sessions' scratch space stays warm), that the bands of rows, the mirror stream beside
//! the direct one, the composition and tract's executor all share. Several pipelines in one
//! process then hold one pool each, not one per use.

use std::sync::Arc;

use tract_linalg::multithread::Executor;

use crate::onnx::ModelError;

/// An upscaler's pool of `threads` kept threads; the calling thread takes part in every scope,
/// so work split `threads` ways spawns `threads - 1` jobs (one pool thread stays free for tract,
/// whose executor moves all its work onto the pool).
#[derive(Clone, Debug)]
pub struct Workers {
    pool: Arc<rayon::ThreadPool>,
}

impl Workers {
    /// A pool of `threads` threads, or `None` for one thread (everything runs on the caller).
    pub fn new(threads: usize) -> Result<Option<Workers>, ModelError> {
        if threads < 2 {
            return Ok(None);
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ntiresr-{}", i + 1))
            .build()
            .map(|pool| {
                Some(Workers {
                    pool: Arc::new(pool),
                })
            })
            .map_err(|e| ModelError::Run(format!("cannot start {threads} threads: {e}")))
    }

    /// The pool, for scopes whose jobs run beside the calling thread.
    pub fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
    }

    /// How many ways work is split: the calling thread and `threads() - 1` jobs.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// tract's executor on the same pool.
    pub fn executor(&self) -> Executor {
        Executor::MultiThread(self.pool.clone())
    }
}

/// The thread count the `n-threads` property means: 0 is every core.
pub fn resolve_threads(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}
