//! # ddiscord (Node.js)
//!
//! napi-rs bindings over the DDiscord Rust core. The npm package's JS entry (`index.js`) wraps
//! this native module: it turns the batches of [`subscription::Subscription`] into `for await`
//! iterators, moves error codes into `err.code`, and accepts `bigint` snowflakes.
//!
//! Layout: [`client`] (`connect`, the `Client` over `ddiscord::Client`), [`config`] (options
//! and environment), [`subscription`] and [`batch`] (events delivered in one crossing per
//! batch), [`commands`] (gateway commands), [`consumer`] (work queues), [`cache`] (cache reads), [`ids`] (snowflakes),
//! [`error`] (codes that cross into JS).

// napi-derive expands `#[napi]` items into `unsafe` FFI glue; this crate writes none itself.
#![allow(unsafe_code)]

pub mod batch;
pub mod cache;
pub mod client;
pub mod commands;
pub mod config;
pub mod consumer;
pub mod error;
pub mod ids;
pub mod rest;
pub mod subscription;

use napi_derive::napi;

/// Runs the addon's async work on a runtime of `DDISCORD_IO_THREADS` workers (default 1,
/// [`ddiscord::runtime`]) instead of napi-rs's default of one per core: the JS thread does the
/// rest, and one worker keeps a read's hops between tasks on one thread.
#[napi_derive::module_init]
fn init() {
    match ddiscord::runtime::builder()
        .thread_name("ddiscord-tokio")
        .build()
    {
        Ok(rt) => napi::bindgen_prelude::create_custom_tokio_runtime(rt),
        // napi-rs then starts its own default runtime, which works too.
        Err(e) => {
            eprintln!("ddiscord: cannot start a Tokio runtime ({e}); using napi-rs's default")
        }
    }
}

/// The version of the native addon.
#[napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
