//! Maps [`ClientError`] onto the exception classes of `ddiscord.errors`, one per stable kind of
//! the core ([`ddiscord::ERROR_KINDS`]; defined in Python so they can also derive from
//! `ValueError`, `ConnectionError` and `TimeoutError`).

use ddiscord::client::ClientError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// One stable error kind: `(code, class, parent class, built-in base, doc)`.
type KindRow = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

/// The stable error kinds of the core, as `(code, class, parent class, built-in base, doc)`:
/// what `ddiscord.errors` must define (a test checks it).
#[pyfunction]
pub(crate) fn error_kinds() -> Vec<KindRow> {
    ddiscord::ERROR_KINDS
        .iter()
        .map(|i| {
            (
                i.code,
                i.python_class,
                i.parent.map(|p| p.info().python_class),
                i.python_builtin,
                i.doc,
            )
        })
        .collect()
}

/// Converts a client error into the matching `ddiscord.errors` exception (takes the GIL).
pub(crate) fn to_py(e: ClientError) -> PyErr {
    let message = e.to_string();
    let name = e.error_kind().info().python_class;
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

/// An id as given from Python, as text for the core's parser: an `int` in decimal, a `str` as
/// it is, anything else as its `repr` (which the parser refuses, naming it).
pub(crate) fn id_text(value: &Bound<'_, PyAny>) -> String {
    if let Ok(n) = value.extract::<u64>() {
        n.to_string()
    } else if let Ok(s) = value.extract::<String>() {
        s
    } else {
        value
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "?".into())
    }
}

/// Reads a Discord id given as an `int` or a decimal `str` with the core's rule
/// ([`ddiscord::snowflake::parse_snowflake`]); anything else, zero or negative is an
/// `InvalidIdError` naming `what`.
pub(crate) fn snowflake(what: &'static str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    ddiscord::snowflake::parse_snowflake(what, &id_text(value)).map_err(|e| to_py(e.into()))
}
