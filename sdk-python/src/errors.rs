//! Maps [`ClientError`] onto the exception classes of `ddiscord.errors` (defined in Python so
//! they can also derive from `ValueError`, `ConnectionError` and `TimeoutError`).

use ddiscord::client::{ClientError, ClientErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The name of the `ddiscord.errors` class for `kind`.
fn class_name(kind: &ClientErrorKind) -> &'static str {
    match kind {
        ClientErrorKind::Config { .. } => "ConfigError",
        ClientErrorKind::InvalidPattern { .. } => "PatternError",
        ClientErrorKind::InvalidId { .. } => "InvalidIdError",
        ClientErrorKind::Mesh { .. } => "MeshError",
        ClientErrorKind::ConnectionLost { .. } => "ConnectionLostError",
        ClientErrorKind::Redis { .. } => "CacheError",
        ClientErrorKind::CorruptCache { .. } => "CorruptCacheError",
        ClientErrorKind::Payload { .. } => "PayloadError",
        ClientErrorKind::Closed => "ClosedError",
        ClientErrorKind::Timeout { .. } => "TimeoutError",
        ClientErrorKind::Group { .. } => "GroupError",
        _ => "DDiscordError",
    }
}

/// Converts a client error into the matching `ddiscord.errors` exception (takes the GIL).
pub(crate) fn to_py(e: ClientError) -> PyErr {
    let message = e.to_string();
    let name = class_name(e.kind());
    Python::attach(|py| {
        let module =
            ERRORS.get_or_try_init(py, || py.import("ddiscord.errors").map(|m| m.unbind()));
        let class = module
            .and_then(|m| m.bind(py).getattr(name))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(class) => PyErr::from_type(class, message),
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

/// Reads a Discord id given as an `int` or a decimal `str`; anything else, zero or negative is
/// an `InvalidIdError` naming `what`.
pub(crate) fn snowflake(what: &'static str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let parsed = if let Ok(n) = value.extract::<u64>() {
        Some(n)
    } else if let Ok(s) = value.extract::<String>() {
        s.trim().parse::<u64>().ok()
    } else {
        None
    };
    match parsed {
        Some(n) if n > 0 => Ok(n),
        _ => {
            let shown = value
                .repr()
                .map(|r| r.to_string())
                .unwrap_or_else(|_| "?".into());
            Err(to_py(ClientError::new(ClientErrorKind::InvalidId {
                what,
                value: shown,
            })))
        }
    }
}
