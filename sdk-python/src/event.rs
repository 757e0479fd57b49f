//! `Event`: one dispatch as Python sees it. The head is read in Rust; `data` is parsed with
//! Python's `json` module on first access and cached.

use ddiscord::topic::Tree;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A dispatch received on `discord/…` or `discord-state/…`.
#[pyclass(module = "ddiscord._native", frozen)]
pub struct Event {
    inner: ddiscord::Event,
    data: PyOnceLock<Py<PyAny>>,
}

impl Event {
    pub(crate) fn new(inner: ddiscord::Event) -> Self {
        Self {
            inner,
            data: PyOnceLock::new(),
        }
    }
}

#[pymethods]
impl Event {
    /// The topic the event was published on.
    #[getter]
    fn topic(&self) -> &str {
        self.inner.topic()
    }

    /// `"dispatch"` or `"state"`.
    #[getter]
    fn tree(&self) -> &'static str {
        match self.inner.tree() {
            Tree::State => "state",
            _ => "dispatch",
        }
    }

    /// The shard that received it.
    #[getter]
    fn shard(&self) -> u32 {
        self.inner.shard()
    }

    /// The guild id, or `None` for events without a guild.
    #[getter]
    fn guild_id(&self) -> Option<u64> {
        self.inner.guild_id()
    }

    /// The dispatch name, e.g. `"MESSAGE_CREATE"`.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The sequence number within the gateway session.
    #[getter]
    fn sequence(&self) -> Option<u64> {
        self.inner.sequence()
    }

    /// The gateway session id.
    #[getter]
    fn session(&self) -> Option<&str> {
        self.inner.session()
    }

    /// Unix time in milliseconds at which ingest read the frame.
    #[getter]
    fn received_ms(&self) -> u64 {
        self.inner.received_ms()
    }

    /// The whole envelope as published (JSON bytes).
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.bytes())
    }

    /// The bytes of `d`, exactly as Discord sent them.
    #[getter]
    fn raw_data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.d_bytes())
    }

    /// `d` parsed into Python objects (`dict`), on first access.
    #[getter]
    fn data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.data
            .get_or_try_init(py, || {
                let loads = JSON_LOADS.get_or_try_init(py, || {
                    py.import("json")
                        .and_then(|m| m.getattr("loads"))
                        .map(Bound::unbind)
                })?;
                loads
                    .bind(py)
                    .call1((PyBytes::new(py, self.inner.d_bytes()),))
                    .map(Bound::unbind)
            })
            .map(|v| v.clone_ref(py))
    }

    fn __repr__(&self) -> String {
        format!(
            "Event(name={:?}, shard={}, guild_id={:?}, sequence={:?})",
            self.inner.name(),
            self.inner.shard(),
            self.inner.guild_id(),
            self.inner.sequence()
        )
    }
}
