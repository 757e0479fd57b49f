//! Errors of the coordination primitives.

use std::fmt;

/// A lease, fence or coordination operation that failed.
///
/// [`CoordError::kind`] says what went wrong; the source (a Redis error, usually) is kept.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct CoordError {
    kind: CoordErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CoordError {
    pub(crate) fn new(kind: CoordErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// Wraps a Redis error from a fenced write: a `DDFENCED` reply becomes
    /// [`CoordErrorKind::Fenced`], anything else [`CoordErrorKind::Redis`].
    pub fn from_redis(context: &'static str, source: redis::RedisError) -> Self {
        Self::redis(context, source)
    }

    pub(crate) fn redis(context: &'static str, source: redis::RedisError) -> Self {
        if is_fenced_reply(&source) {
            return Self::new(CoordErrorKind::Fenced);
        }
        Self {
            kind: CoordErrorKind::Redis { context },
            source: Some(Box::new(source)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &CoordErrorKind {
        &self.kind
    }

    /// Whether the write was refused because the lease it was made under is no longer current.
    pub fn is_fenced(&self) -> bool {
        matches!(self.kind, CoordErrorKind::Fenced)
    }
}

/// The kinds of [`CoordError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoordErrorKind {
    /// A Redis command failed (connection lost, timeout, script error). Retrying later is safe;
    /// check that `DDISCORD_REDIS_URL` points at a reachable Redis 6.2+.
    Redis {
        /// What was being done.
        context: &'static str,
    },
    /// Redis did not answer within the lease's renew interval.
    Timeout {
        /// What was being done.
        context: &'static str,
    },
    /// The write was refused: the lease's fencing token is no longer the partition's current
    /// token (the lease expired or another node took it). Stop working on the partition.
    Fenced,
    /// The configuration cannot work (zero partitions, zero TTL, renew interval not below TTL).
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The partition is outside `0..partitions`.
    NoSuchPartition {
        /// The partition asked for.
        partition: u32,
        /// The configured partition count.
        partitions: u32,
    },
    /// The claimer task has stopped (after [`super::Leases::shutdown`] or a crash).
    Stopped,
}

impl fmt::Display for CoordErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis { context } => write!(
                f,
                "redis failed while {context}; check that Redis is reachable, the operation is retried"
            ),
            Self::Timeout { context } => write!(
                f,
                "redis did not answer in time while {context}; the lease is treated as lost once its TTL passes"
            ),
            Self::Fenced => f.write_str(
                "write refused: the lease is no longer current (expired or taken by another node); stop work on this partition",
            ),
            Self::InvalidConfig { reason } => write!(f, "invalid lease configuration: {reason}"),
            Self::NoSuchPartition {
                partition,
                partitions,
            } => write!(
                f,
                "partition {partition} does not exist; partitions are 0..{partitions}"
            ),
            Self::Stopped => f.write_str("the lease claimer has stopped"),
        }
    }
}

/// The error code a fenced script replies with when its lease is not current.
pub const FENCED_CODE: &str = "DDFENCED";

/// Whether a Redis error is the reply of a fenced script whose lease was not current: its
/// error code, or the code of any command of a failed pipeline (a fenced batch of the state
/// worker), is [`FENCED_CODE`].
pub(crate) fn is_fenced_reply(err: &redis::RedisError) -> bool {
    err.code() == Some(FENCED_CODE)
        || err
            .clone()
            .into_server_errors()
            .is_some_and(|errors| errors.iter().any(|(_, e)| e.code() == FENCED_CODE))
}
