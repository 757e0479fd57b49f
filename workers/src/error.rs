//! Errors of the state worker process.

use std::fmt;
use std::time::Duration;

use ddiscord::coord::CoordError;
use ddiscord::group::GroupError;

/// Why the state worker could not start or stopped.
///
/// [`WorkerError::kind`] says what went wrong and what to check; the source is kept.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct WorkerError {
    kind: WorkerErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl WorkerError {
    pub(crate) fn new(kind: WorkerErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: WorkerErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::new(WorkerErrorKind::Config {
            reason: reason.into(),
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> &WorkerErrorKind {
        &self.kind
    }
}

/// The kinds of [`WorkerError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerErrorKind {
    /// A setting cannot work; the reason names the environment variable to fix.
    Config {
        /// What is wrong.
        reason: String,
    },
    /// Redis could not be reached at start (the URL is not logged, it may hold a password).
    Redis,
    /// Reading or checking the recorded topology in Redis failed, or `DDISCORD_SHARDS`
    /// contradicts it (the source says which).
    Topology,
    /// Joining the consumer group failed (leases in Redis or sessions on the mesh).
    Group,
    /// The mesh could not be reached or the URL is invalid.
    Mesh,
    /// The listener for `/healthz`, `/readyz` and `/metrics` could not bind.
    Http,
    /// The worker did not stop within the bound and was aborted (its leases expire after their
    /// TTL; unacknowledged messages are redelivered).
    ShutdownTimeout {
        /// The bound.
        after: Duration,
    },
    /// A task of the worker panicked or was cancelled, or a signal handler could not be set.
    Task,
}

impl fmt::Display for WorkerErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config { reason } => write!(f, "invalid state worker configuration: {reason}"),
            Self::Redis => f.write_str(
                "cannot connect to Redis; check DDISCORD_REDIS_URL and that Redis is up",
            ),
            Self::Topology => f.write_str(
                "the shard count recorded in Redis could not be used; check DDISCORD_SHARDS and DDISCORD_REDIS_URL",
            ),
            Self::Group => f.write_str("joining the state worker's consumer group failed"),
            Self::Mesh => f.write_str(
                "cannot connect to the mesh; check DDISCORD_MESH_URL and that the broker is up",
            ),
            Self::Http => f.write_str(
                "the listener for /healthz, /readyz and /metrics could not start; \
                 choose a free address with DDISCORD_HTTP_ADDR",
            ),
            Self::ShutdownTimeout { after } => {
                write!(f, "the state worker did not stop within {after:?}; aborted")
            }
            Self::Task => f.write_str("a state worker task ended abnormally"),
        }
    }
}

impl From<GroupError> for WorkerError {
    fn from(e: GroupError) -> Self {
        Self::with_source(WorkerErrorKind::Group, e)
    }
}

impl From<ddiscord_ops::BindError> for WorkerError {
    fn from(e: ddiscord_ops::BindError) -> Self {
        Self::with_source(WorkerErrorKind::Http, e)
    }
}

impl From<CoordError> for WorkerError {
    fn from(e: CoordError) -> Self {
        Self::with_source(WorkerErrorKind::Topology, e)
    }
}
