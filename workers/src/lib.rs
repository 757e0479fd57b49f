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
mod health;
pub mod projection;
mod worker;

pub use config::{StateWorkerArgs, StateWorkerConfig};
pub use error::{WorkerError, WorkerErrorKind};
pub use health::Readiness;
pub use projection::{
    Fencing, Gaps, Outcome, ProjectionConfig, ProjectionError, ProjectionErrorKind, Projector,
};
pub use worker::{
    BATCH_GRACE, LEAVE_TIMEOUT, SCRIPT_RESPONSE_TIMEOUT, SHUTDOWN_TIMEOUT, StateWorker,
    StateWorkerHandle,
};

/// Runs the state worker until SIGTERM or Ctrl-C, then stops gracefully (the batch in hand is
/// finished, the leases released). The `ddiscord state-worker` subcommand.
///
/// # Errors
/// [`WorkerError`] when the configuration is invalid, Redis or the mesh cannot be reached at
/// start, or the worker fails.
pub async fn run(args: StateWorkerArgs) -> Result<(), WorkerError> {
    let config = StateWorkerConfig::try_from(args)?;
    let mut handle = StateWorker::start(config).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| WorkerError::with_source(WorkerErrorKind::Task, e))?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping the state worker"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping the state worker"),
        result = handle.finished() => return result,
    }
    handle.shutdown().await
}
