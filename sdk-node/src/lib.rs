//! # ddiscord (Node.js)
//!
//! napi-rs bindings over the DDiscord Rust core. The npm package's JS entry (`index.js`) wraps
//! this native module: it turns [`Subscription::next_batch`] into `for await` iterators, moves
//! error codes into `err.code`, and accepts `bigint` snowflakes.
//!
//! Layout: [`error`] (codes that cross into JS), [`ids`] (snowflakes), [`batch`] (events in
//! one crossing), [`subscription`] (`subscribe`, `subscribeState`).

// napi-derive expands `#[napi]` items into `unsafe` FFI glue; this crate writes none itself.
#![allow(unsafe_code)]

pub mod batch;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod ids;
mod mesh;
pub mod subscription;

use napi_derive::napi;

/// The version of the native addon.
#[napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
