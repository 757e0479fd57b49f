//! Errors of the state worker process.

use ddiscord::group::GroupError;

/// Why the state worker could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A setting cannot work; the message names the environment variable to fix.
    #[error("invalid state worker configuration: {0}")]
    Config(String),
    /// Redis could not be reached at start (the URL is not logged, it may hold a password);
    /// check DDISCORD_REDIS_URL and that Redis is up.
    #[error("cannot connect to Redis (check DDISCORD_REDIS_URL): {0}")]
    Redis(#[source] redis::RedisError),
    /// Joining the consumer group failed (leases in Redis or sessions on the mesh).
    #[error("joining the state worker's consumer group failed: {0}")]
    Group(#[from] GroupError),
    /// The mesh could not be reached (check DDISCORD_MESH_URL).
    #[error("cannot connect to the mesh (check DDISCORD_MESH_URL): {0}")]
    Mesh(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The listener for `/healthz`, `/readyz` and `/metrics` could not bind (check
    /// DDISCORD_HTTP_ADDR).
    #[error(transparent)]
    Http(#[from] ddiscord_ops::BindError),
    /// The worker did not stop within the bound and was aborted (its leases expire after their
    /// TTL; unacknowledged messages are redelivered).
    #[error("the state worker did not stop within {0:?}; aborted")]
    ShutdownTimeout(std::time::Duration),
    /// The worker task panicked or was cancelled.
    #[error("the state worker task ended abnormally: {0}")]
    Task(String),
}
