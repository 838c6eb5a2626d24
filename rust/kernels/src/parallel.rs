//! One rayon pool for every kernel, sized once from `ADVENGINE_NUM_THREADS`.
//!
//! The pool is rebuilt when the process id changes: a child created by `fork()` inherits the pool's
//! bookkeeping but not its threads, and would otherwise wait forever on work nobody runs.

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);

/// The thread count asked for by `ADVENGINE_NUM_THREADS`, or the number of logical CPUs.
pub fn configured_threads() -> usize {
    std::env::var("ADVENGINE_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn pool() -> Arc<ThreadPool> {
    let pid = std::process::id();
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some((owner, pool)) if *owner == pid => Arc::clone(pool),
        _ => {
            let pool = Arc::new(
                ThreadPoolBuilder::new()
                    .num_threads(configured_threads())
                    .thread_name(|i| format!("advengine-{i}"))
                    .build()
                    .unwrap_or_else(|_| {
                        // Thread creation can fail under tight rlimits; one thread always works.
                        ThreadPoolBuilder::new()
                            .num_threads(1)
                            .build()
                            .expect("a one-thread pool")
                    }),
            );
            *guard = Some((pid, Arc::clone(&pool)));
            pool
        }
    }
}

/// Runs `f` inside the advengine pool, so its rayon calls use the configured thread count.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

/// Forgets the pool so the next call builds one with the current `ADVENGINE_NUM_THREADS`.
pub fn reset() {
    *POOL.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Number of threads of the current pool.
pub fn current_threads() -> usize {
    pool().current_num_threads()
}
