//! Errors of consumer groups.

use std::fmt;

use crate::CoordError;

/// Why a consumer group could not join, or an ack failed.
///
/// [`GroupError::kind`] says what went wrong; the source (a [`CoordError`] or the mesh
/// backend's error) is kept.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct GroupError {
    kind: GroupErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl GroupError {
    pub(crate) fn new(kind: GroupErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// An error of `kind` caused by `source` (for [`super::DurableSource`] implementations).
    pub fn with_source(
        kind: GroupErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    pub(crate) fn invalid_config(reason: impl Into<String>) -> Self {
        Self::new(GroupErrorKind::InvalidConfig {
            reason: reason.into(),
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> &GroupErrorKind {
        &self.kind
    }
}

impl From<CoordError> for GroupError {
    fn from(e: CoordError) -> Self {
        Self::with_source(GroupErrorKind::Leases, e)
    }
}

/// The kinds of [`GroupError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupErrorKind {
    /// The configuration cannot work (the reason says what to change).
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// Claiming partitions through the Redis leases failed; check `DDISCORD_REDIS_URL`.
    Leases,
    /// The mesh refused a durable session, a publish or an ack; the member retries sessions by
    /// itself, an unacked message is redelivered.
    Mesh,
    /// The group was shut down.
    Closed,
}

impl fmt::Display for GroupErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig { reason } => {
                write!(f, "invalid consumer group configuration: {reason}")
            }
            Self::Leases => f.write_str(
                "consumer group leases failed; check DDISCORD_REDIS_URL and that Redis is up",
            ),
            Self::Mesh => f.write_str(
                "mesh operation for the consumer group failed; sessions are retried and unacked messages redelivered",
            ),
            Self::Closed => f.write_str("the consumer group member was shut down"),
        }
    }
}
