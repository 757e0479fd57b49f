//! Errors of the ingest node.

use std::fmt;

/// An ingest node that could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct IngestError {
    kind: IngestErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl IngestError {
    #[allow(dead_code)]
    pub(crate) fn new(kind: IngestErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: IngestErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &IngestErrorKind {
        &self.kind
    }
}

/// The kinds of [`IngestError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IngestErrorKind {
    /// A setting is missing or invalid; the message names it and its environment variable.
    Config {
        /// What is wrong.
        reason: String,
    },
    /// Redis could not be reached or refused a command (`DDISCORD_REDIS_URL`).
    Redis {
        /// What was being done.
        context: &'static str,
    },
    /// The event mesh could not be reached (`DDISCORD_MESH_URL`).
    Mesh {
        /// What was being done.
        context: &'static str,
    },
    /// `GET /gateway/bot` failed: a bad token (`DISCORD_TOKEN`), or Discord (or the simulator,
    /// `DDISCORD_GATEWAY_URL`) unreachable. Setting `DDISCORD_SHARDS` avoids the call for the
    /// shard count.
    GatewayInfo,
    /// The lease claimer failed.
    Coord,
    /// `DDISCORD_SHARDS` contradicts the topology recorded in Redis by earlier ingest nodes
    /// (and Discord's recommendation has not changed since it was recorded).
    Topology {
        /// The explicit `DDISCORD_SHARDS`.
        explicit: u32,
        /// The shard count recorded in Redis.
        recorded: u32,
        /// The Redis key of the recorded topology.
        key: String,
    },
    /// The HTTP listener for `/healthz`, `/readyz` and `/metrics` could not bind
    /// (`DDISCORD_HTTP_ADDR`).
    Http,
    /// A background task panicked or was cancelled.
    Task {
        /// Which task.
        task: &'static str,
    },
    /// A graceful stop did not finish within its bound and was cut short (sessions not yet
    /// persisted are resumed from the last saved sequence; the leases expire after their TTL).
    ShutdownTimeout {
        /// The bound.
        after: std::time::Duration,
    },
}

impl fmt::Display for IngestErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config { reason } => write!(f, "invalid ingest configuration: {reason}"),
            Self::Redis { context } => write!(
                f,
                "redis failed while {context}; check DDISCORD_REDIS_URL and that Redis is up"
            ),
            Self::Mesh { context } => write!(
                f,
                "event mesh failed while {context}; check DDISCORD_MESH_URL and that the broker is up"
            ),
            Self::GatewayInfo => f.write_str(
                "GET /gateway/bot failed; check DISCORD_TOKEN and DDISCORD_GATEWAY_URL, or set DDISCORD_SHARDS",
            ),
            Self::Coord => f.write_str("shard lease coordination failed"),
            Self::Topology {
                explicit,
                recorded,
                key,
            } => write!(
                f,
                "DDISCORD_SHARDS is {explicit} but the bot's recorded topology ({key}) has {recorded} shards; \
                 set DDISCORD_SHARDS={recorded} (or unset it to follow Discord), or, to re-shard on purpose, \
                 stop every ingest node and consumer group, delete {key} and start again"
            ),
            Self::Http => f.write_str(
                "the listener for /healthz, /readyz and /metrics could not start; \
                 choose a free address with DDISCORD_HTTP_ADDR",
            ),
            Self::Task { task } => write!(f, "background task {task} failed"),
            Self::ShutdownTimeout { after } => {
                write!(f, "the graceful stop did not finish within {after:?}; aborted")
            }
        }
    }
}

impl From<ddiscord_ops::BindError> for IngestError {
    fn from(e: ddiscord_ops::BindError) -> Self {
        Self::with_source(IngestErrorKind::Http, e)
    }
}

impl From<ddiscord::coord::CoordError> for IngestError {
    fn from(e: ddiscord::coord::CoordError) -> Self {
        Self::with_source(IngestErrorKind::Coord, e)
    }
}
