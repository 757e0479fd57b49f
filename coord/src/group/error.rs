//! Errors of consumer groups.

use crate::CoordError;

/// Why a consumer group could not join, or an ack failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The configuration cannot work (the reason says what to change).
    #[error("invalid consumer group configuration: {0}")]
    InvalidConfig(String),
    /// Claiming partitions through the Redis leases failed; check DDISCORD_REDIS_URL.
    #[error("consumer group leases failed: {0}")]
    Leases(#[from] CoordError),
    /// The mesh refused a durable session, a publish or an ack; the member retries sessions by
    /// itself, an unacked message is redelivered.
    #[error("mesh operation for the consumer group failed: {0}")]
    Mesh(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The group was shut down.
    #[error("the consumer group member was shut down")]
    Closed,
}
