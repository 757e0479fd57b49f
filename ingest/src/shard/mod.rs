//! One leased shard: a twilight-gateway connection whose dispatches are published to the mesh.
//!
//! - [`publish`]: the bounded window of dispatches read but not yet acknowledged by the mesh.
//! - [`runner`]: the shard's loop (read, publish, persist the session, gateway commands, stop).

pub(crate) mod publish;
pub(crate) mod runner;

pub(crate) use runner::{ShardCtx, ShardExit, StopMode, run_shard};
