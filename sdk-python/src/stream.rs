//! `NativeStream`: any stream of events (a subscription, member chunks) read from Python in
//! batches.

use std::pin::Pin;
use std::sync::Arc;

use ddiscord::client::ClientError;
use futures::{FutureExt as _, Stream, StreamExt as _};
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::event::Event;

type Events = Pin<Box<dyn Stream<Item = Result<ddiscord::Event, ClientError>> + Send>>;

/// A stream of events; Python calls `next_batch` and iterates over the list it returns.
#[pyclass(module = "ddiscord._native", frozen)]
pub struct NativeStream {
    inner: Arc<tokio::sync::Mutex<Option<Events>>>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl NativeStream {
    pub(crate) fn new(
        stream: impl Stream<Item = Result<ddiscord::Event, ClientError>> + Send + 'static,
    ) -> Self {
        Self {
            inner: Arc::new(tokio::sync::Mutex::new(Some(Box::pin(stream)))),
            closed: tokio::sync::watch::Sender::new(false),
        }
    }
}

#[pymethods]
impl NativeStream {
    /// Awaits the next event, then takes every event already buffered, up to `max` in total.
    /// Resolves to a list of `Event`; an empty list means the stream ended. An error (e.g. a
    /// lost connection) is raised once, after the events received before it are returned.
    #[pyo3(signature = (max = 1024))]
    fn next_batch<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        let mut closed = self.closed.subscribe();
        crate::runtime::future_into_py(py, async move {
            let mut guard = inner.lock().await;
            let Some(stream) = guard.as_mut() else {
                return Ok(Vec::new());
            };
            let mut batch = Vec::new();
            let next = tokio::select! {
                next = stream.next() => next,
                _ = closed.wait_for(|c| *c) => None,
            };
            let first = match next {
                None => {
                    *guard = None;
                    return Ok(batch);
                }
                Some(first) => first,
            };
            match first {
                Ok(e) => batch.push(Event::new(e)),
                Err(e) => return Err(to_py(e)),
            }
            while batch.len() < max.max(1) {
                match stream.next().now_or_never() {
                    Some(Some(Ok(e))) => batch.push(Event::new(e)),
                    // Keep the error for the next call, after this batch is delivered.
                    Some(Some(Err(e))) => {
                        let rest = futures::stream::once(async move { Err(e) });
                        let old = guard.take();
                        if let Some(old) = old {
                            *guard = Some(Box::pin(rest.chain(old)));
                        }
                        break;
                    }
                    Some(None) => {
                        *guard = None;
                        break;
                    }
                    None => break,
                }
            }
            Ok(batch)
        })
    }

    /// Ends the stream (unsubscribes); pending and later `next_batch` calls return `[]`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        self.closed.send_replace(true);
        crate::runtime::future_into_py(py, async move {
            inner.lock().await.take();
            Ok(())
        })
    }
}
