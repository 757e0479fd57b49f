//! Work queues for Python: `NativeQueue` hands out `NativeJob`s in batches.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ddiscord::client::{ClientError, ClientErrorKind, Job, QueueOptions, WorkQueue};
use futures::{FutureExt as _, StreamExt as _};
use pyo3::prelude::*;

use crate::client::NativeClient;
use crate::errors::to_py;
use crate::event::Event;

fn seconds(what: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        to_py(ClientError::new(ClientErrorKind::Config {
            message: format!("{what} must be a non-negative number of seconds, got {secs}"),
        }))
    })
}

#[pymethods]
impl NativeClient {
    /// Joins work queue `group` on `pattern`; resolves to a `NativeQueue`.
    #[pyo3(signature = (group, pattern, *, max_deliveries = 5, retry_delay = 1.0, lease_ttl = 10.0))]
    fn consume<'py>(
        &self,
        py: Python<'py>,
        group: String,
        pattern: String,
        max_deliveries: u32,
        retry_delay: f64,
        lease_ttl: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = QueueOptions {
            max_deliveries,
            retry_delay: seconds("retry_delay", retry_delay)?,
            lease_ttl: seconds("lease_ttl", lease_ttl)?,
        };
        let client = self.client().clone();
        crate::runtime::future_into_py(py, async move {
            let queue = client
                .consume_with(&group, &pattern, options)
                .await
                .map_err(to_py)?;
            Ok(NativeQueue {
                inner: Arc::new(tokio::sync::Mutex::new(Some(queue))),
                closed: tokio::sync::watch::Sender::new(false),
            })
        })
    }
}

/// A replica of a work queue.
#[pyclass(module = "ddiscord._native", frozen)]
pub struct NativeQueue {
    inner: Arc<tokio::sync::Mutex<Option<WorkQueue>>>,
    closed: tokio::sync::watch::Sender<bool>,
}

#[pymethods]
impl NativeQueue {
    /// Awaits the next job, then takes every job already buffered, up to `max`; resolves to a
    /// list of `NativeJob` (empty once the queue is closed).
    #[pyo3(signature = (max = 256))]
    fn next_batch<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        let mut closed = self.closed.subscribe();
        crate::runtime::future_into_py(py, async move {
            let mut guard = inner.lock().await;
            let Some(queue) = guard.as_mut() else {
                return Ok(Vec::new());
            };
            let first = tokio::select! {
                job = queue.next() => job,
                _ = closed.wait_for(|c| *c) => None,
            };
            let Some(first) = first else {
                return Ok(Vec::new());
            };
            let mut batch = vec![NativeJob::new(first)?];
            while batch.len() < max.max(1) {
                match queue.next().now_or_never() {
                    Some(Some(job)) => batch.push(NativeJob::new(job)?),
                    _ => break,
                }
            }
            Ok(batch)
        })
    }

    /// The partitions (shards) this replica holds now.
    fn partitions(&self) -> Vec<u32> {
        self.inner
            .try_lock()
            .ok()
            .and_then(|q| q.as_ref().map(WorkQueue::partitions))
            .unwrap_or_default()
    }

    /// Leaves the queue: releases the partitions so the other replicas take them over at once.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        self.closed.send_replace(true);
        crate::runtime::future_into_py(py, async move {
            let queue = inner.lock().await.take();
            if let Some(queue) = queue {
                queue.close().await.map_err(to_py)?;
            }
            Ok(())
        })
    }
}

/// One job: its event, and ack/nack.
#[pyclass(module = "ddiscord._native", frozen)]
pub struct NativeJob {
    event: Py<Event>,
    deliveries: u32,
    redelivered: bool,
    partition: u32,
    job: Arc<Mutex<Option<Job>>>,
}

impl NativeJob {
    fn new(job: Job) -> PyResult<Self> {
        let event = Python::attach(|py| Py::new(py, Event::new(job.event().clone())))?;
        Ok(Self {
            event,
            deliveries: job.deliveries(),
            redelivered: job.redelivered(),
            partition: job.partition(),
            job: Arc::new(Mutex::new(Some(job))),
        })
    }

    fn take(&self) -> PyResult<Job> {
        self.job
            .lock()
            .ok()
            .and_then(|mut j| j.take())
            .ok_or_else(|| {
                to_py(ClientError::new(ClientErrorKind::Group {
                    action: "settling a job twice (ack or nack it once)".into(),
                }))
            })
    }
}

#[pymethods]
impl NativeJob {
    /// The event to work on.
    #[getter]
    fn event(&self, py: Python<'_>) -> Py<Event> {
        self.event.clone_ref(py)
    }

    /// Deliveries to this replica so far (1 on the first).
    #[getter]
    fn deliveries(&self) -> u32 {
        self.deliveries
    }

    /// Delivered before without an ack (an earlier owner crashed mid-work).
    #[getter]
    fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// The partition (shard).
    #[getter]
    fn partition(&self) -> u32 {
        self.partition
    }

    /// Acknowledges the job after the work is done.
    fn ack<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let job = self.take()?;
        crate::runtime::future_into_py(py, async move { job.ack().await.map_err(to_py) })
    }

    /// Gives the job back for another delivery (dead-lettered after `max_deliveries`).
    fn nack<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let job = self.take()?;
        let result = job.nack().map_err(to_py);
        crate::runtime::future_into_py(py, async move { result })
    }
}
