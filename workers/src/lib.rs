//! # ddiscord-workers
//!
//! The state worker: consumes every dispatch of the bot as a consumer group (partitions are
//! shards, [`ddiscord::group`]), projects it into the Redis cache whose layout
//! [`ddiscord::cache::keys`] names ([`projection`]), and republishes it on
//! `<root>-state/…` once its effect is readable.
//!
//! ```text
//! mesh ── <root>/<shard>/> (durable session per shard) ──▶ batch ──▶ apply.lua (fenced, guarded) ──▶ Redis
//!                                                               └──▶ <root>-state/… ──▶ ack
//! ```

mod config;
mod error;
pub mod http;
pub mod projection;
mod worker;

pub use config::{StateWorkerArgs, StateWorkerConfig};
pub use error::WorkerError;
pub use projection::{Fencing, Outcome, ProjectionConfig, ProjectionError, Projector};
pub use worker::{StateWorker, StateWorkerHandle};
