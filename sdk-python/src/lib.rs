//! `ddiscord._native`: the compiled core of the `ddiscord-sdk` Python package.
//!
//! A thin PyO3 layer over [`ddiscord::Client`]: every awaitable runs on a shared Tokio runtime
//! without holding the GIL (stopped in order at interpreter exit, see [`runtime`]), events cross
//! into Python in batches (one crossing per batch, not per event), and errors become the exception classes of `ddiscord.errors`. The public Python API
//! lives in `python/ddiscord/`; this module is private to it.

// PyO3's macros expand to `unsafe` FFI glue; this crate writes none by hand.
#![allow(unsafe_code)]

mod cache;
mod client;
mod errors;
mod event;
mod queue;
mod rest;
mod runtime;
mod stream;

use pyo3::prelude::*;

/// The native module, imported by the `ddiscord` package as `ddiscord._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<event::Event>()?;
    m.add_class::<stream::NativeStream>()?;
    m.add_class::<queue::NativeQueue>()?;
    m.add_class::<queue::NativeJob>()?;
    m.add_function(wrap_pyfunction!(client::connect, m)?)?;
    m.add_function(wrap_pyfunction!(client::shard_for_guild, m)?)?;
    m.add_function(wrap_pyfunction!(client::validate_pattern, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_kinds, m)?)?;
    // Not a module attribute: `atexit` alone calls it, before the interpreter finalizes.
    let shutdown = wrap_pyfunction!(runtime::shutdown, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (shutdown,))?;
    Ok(())
}
