//! # ddiscord (Node.js)
//!
//! napi-rs bindings over the DDiscord Rust core. The npm package's JS entry (`index.js`) wraps
//! this native module: it turns [`subscription::Subscription::next_batch`] into `for await` iterators, moves
//! error codes into `err.code`, and accepts `bigint` snowflakes.
//!
//! Layout: [`client`] (`connect`, the `Client` over `ddiscord::Client`), [`config`] (options
//! and environment), [`subscription`] and [`batch`] (events delivered in one crossing per
//! batch), [`commands`] (gateway commands), [`cache`] (cache reads), [`ids`] (snowflakes),
//! [`error`] (codes that cross into JS).

// napi-derive expands `#[napi]` items into `unsafe` FFI glue; this crate writes none itself.
#![allow(unsafe_code)]

pub mod batch;
pub mod cache;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod ids;
pub mod subscription;

use napi_derive::napi;

/// The version of the native addon.
#[napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
