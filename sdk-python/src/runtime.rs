//! The Tokio runtime behind every awaitable of the module, and its orderly stop at interpreter
//! exit.
//!
//! pyo3-async-runtimes completes each awaitable from a Tokio thread that takes the GIL. If a
//! thread does that while CPython finalizes, CPython tears the thread down in the middle of the
//! call and the process dies ("PyGILState_Release: thread state … must be current", or a signal).
//! A script reaches that point easily: `asyncio.run` returns, the interpreter begins to exit,
//! and the awaitables it cancelled on the way out are still being completed.
//!
//! So every task is spawned through [`PyRuntime`], which counts the tasks alive. The module
//! registers [`shutdown`] with `atexit` (which runs before finalization): it refuses new tasks,
//! drops the pending ones without completing their awaitables, and waits, with the GIL released,
//! until no task is still touching Python.

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{ContextExt, Runtime as GenericRuntime};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// The longest [`shutdown`] waits for tasks that are completing an awaitable (ms).
const SHUTDOWN_WAIT_MS: u64 = 5_000;

/// Converts a Rust future into a Python awaitable that runs on the module's runtime.
///
/// The awaitable belongs to the running asyncio loop; cancelling it drops the Rust future.
/// Fails with `RuntimeError` when called without a running loop.
pub(crate) fn future_into_py<F, T>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    pyo3_async_runtimes::generic::future_into_py::<PyRuntime, F, T>(py, fut)
}

/// Stops the runtime's Python-facing work before the interpreter finalizes; registered with
/// `atexit` when the module is imported. Idempotent.
///
/// New tasks are refused (their awaitables never complete, which no one is left to observe),
/// pending tasks are dropped at their next await point, and the call waits, with the GIL
/// released, up to 5 s for the tasks that are already completing an awaitable.
#[pyfunction]
pub(crate) fn shutdown(py: Python<'_>) {
    let state = tracker();
    {
        // Under the lock, so that no task is counted after this.
        let _tasks = state.lock();
        state.closing.send_replace(true);
    }
    py.detach(|| {
        let deadline = Instant::now() + Duration::from_millis(SHUTDOWN_WAIT_MS);
        let mut tasks = state.lock();
        while *tasks > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            tasks = match state.idle.wait_timeout(tasks, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    });
}

/// The runtime shared by every client of the process: `DDISCORD_IO_THREADS` workers (default
/// 1, [`ddiscord::runtime`]), all drivers enabled.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        ddiscord::runtime::builder()
            .thread_name("ddiscord-tokio")
            .build()
            // Building fails only when the OS refuses threads or an epoll instance; the
            // module cannot work without them, and there is no caller to return an error to.
            .unwrap_or_else(|e| panic!("cannot start the Tokio runtime: {e}"))
    })
}

/// How many tasks are alive, and whether the runtime is closing.
struct Tracker {
    /// Tasks alive.
    tasks: Mutex<usize>,
    /// Signalled whenever `tasks` drops to zero.
    idle: Condvar,
    /// Becomes `true` (under the `tasks` lock) when [`shutdown`] starts; pending tasks watch it.
    closing: watch::Sender<bool>,
}

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, usize> {
        // A panic while holding this lock leaves a plain integer behind: still consistent.
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn tracker() -> &'static Tracker {
    static TRACKER: OnceLock<Tracker> = OnceLock::new();
    TRACKER.get_or_init(|| Tracker {
        tasks: Mutex::new(0),
        idle: Condvar::new(),
        closing: watch::Sender::new(false),
    })
}

/// One counted task; dropping it uncounts the task. `None` once the runtime is closing.
struct TaskGuard(());

impl TaskGuard {
    fn enter() -> Option<Self> {
        let state = tracker();
        let mut tasks = state.lock();
        if *state.closing.borrow() {
            return None;
        }
        *tasks += 1;
        Some(Self(()))
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let state = tracker();
        let mut tasks = state.lock();
        *tasks = tasks.saturating_sub(1);
        if *tasks == 0 {
            state.idle.notify_all();
        }
    }
}

/// The [`GenericRuntime`] pyo3-async-runtimes spawns on: Tokio, with every task counted and
/// cut short by [`shutdown`].
struct PyRuntime;

tokio::task_local! {
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl GenericRuntime for PyRuntime {
    // pyo3-async-runtimes implements its `JoinError` for Tokio's (feature `tokio-runtime`).
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let guard = TaskGuard::enter();
        let mut closing = tracker().closing.subscribe();
        runtime().spawn(async move {
            let Some(_guard) = guard else { return };
            tokio::select! {
                biased;
                _ = closing.wait_for(|c| *c) => {}
                () = fut => {}
            }
        })
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let guard = TaskGuard::enter();
        runtime().spawn_blocking(move || {
            // Counted work runs even while closing: `shutdown` waits for it with the GIL
            // released. Work that arrives after the close is dropped unrun.
            if let Some(_guard) = guard {
                f();
            }
        })
    }
}

impl ContextExt for PyRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        // A fresh cell is empty, so `set` cannot fail.
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}
