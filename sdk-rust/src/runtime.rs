//! The Tokio runtime the Python and Node packages run the core on.

/// Environment variable: the Tokio worker threads of the Python and Node packages' runtime.
pub const IO_THREADS_ENV: &str = "DDISCORD_IO_THREADS";

/// Worker threads when [`IO_THREADS_ENV`] is unset or not a positive integer: 1.
///
/// Python and Node run their callbacks on one thread; with one Tokio worker, a read's hops
/// between its task and the Redis connection's task stay on one thread, which measured 1.14×
/// of `redis.asyncio` + `json.loads` for a single `cache.user` read against 1.47× with two
/// workers on a 2-core machine (`sdk-python/bench/bench_cache.py`). Raise it for processes
/// that decode many subscriptions at once.
pub const DEFAULT_IO_THREADS: usize = 1;

/// The worker threads to start: [`IO_THREADS_ENV`] when it is a positive integer, else
/// [`DEFAULT_IO_THREADS`].
pub fn io_threads() -> usize {
    std::env::var(IO_THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_IO_THREADS)
}

/// A multi-threaded Tokio runtime builder with [`io_threads`] workers and every driver.
pub fn builder() -> tokio::runtime::Builder {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(io_threads()).enable_all();
    b
}
