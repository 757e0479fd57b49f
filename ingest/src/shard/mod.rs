//! One leased shard: a twilight-gateway connection whose dispatches are published to the mesh.
//!
//! - [`ctx`]: what every shard of a node shares.
//! - [`publish`]: the bounded window of dispatches read but not yet acknowledged by the mesh.
//! - [`runner`]: the shard's loop (read, publish, persist the session, gateway commands, stop).

pub(crate) mod ctx;
pub(crate) mod lag;
pub(crate) mod publish;
pub(crate) mod runner;

pub(crate) use ctx::ShardCtx;
pub(crate) use runner::{ShardExit, StopMode, run_shard};
