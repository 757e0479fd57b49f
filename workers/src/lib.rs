//! # ddiscord-workers
//!
//! The state worker: consumes every dispatch of the bot as a consumer group (partitions are
//! shards), projects it into the Redis cache whose layout [`ddiscord::cache::keys`] names, and
//! republishes it on `discord-state/…` once its effect is readable.

pub mod projection;

pub use projection::{Outcome, ProjectionConfig, ProjectionError, Projector};
