//! The client's error: a kind that says what went wrong and what to do, plus its source.

use std::error::Error as StdError;
use std::fmt;

/// An error of [`Client`](super::Client): match on [`ClientError::kind`]; the
/// [`source`](StdError::source) is the underlying mesh, Redis, topic or JSON error.
#[derive(Debug)]
pub struct ClientError {
    kind: ClientErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientErrorKind {
    /// A configuration value is invalid (e.g. `DDISCORD_SHARDS` is not a positive integer).
    Config {
        /// What is wrong and which variable to fix.
        message: String,
    },
    /// A subscription pattern is not valid Solace syntax or not on the expected tree.
    InvalidPattern {
        /// What is wrong with it.
        message: String,
    },
    /// An id is not a snowflake (Discord ids are non-zero unsigned 64-bit integers).
    InvalidId {
        /// Which id (`guild_id`, `user_id`, ...).
        what: &'static str,
        /// The value as given.
        value: String,
    },
    /// The event mesh could not be reached or refused an operation.
    Mesh {
        /// What was being done.
        action: String,
    },
    /// Redis (the cache) could not be reached or answered with an error.
    Redis {
        /// What was being done.
        action: String,
    },
    /// A cached value is not the JSON the key schema documents.
    CorruptCache {
        /// The Redis key.
        key: String,
    },
    /// An event payload does not match the requested type.
    Payload {
        /// The dispatch name.
        event: String,
    },
    /// The connection to the mesh was lost while a stream was open. The client reconnects and
    /// resubscribes in the background and the stream stays open: keep reading it. Events
    /// published while the connection was down are lost for direct subscriptions.
    ConnectionLost {
        /// Why, as the mesh reported it.
        reason: String,
    },
    /// The client was closed.
    Closed,
    /// An operation did not finish in time.
    Timeout {
        /// What was awaited.
        what: String,
    },
    /// A consumer group (work queue) failed.
    Group {
        /// What was being done.
        action: String,
    },
}

impl ClientError {
    /// An error of `kind` without a source.
    pub fn new(kind: ClientErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// An error of `kind` caused by `source`.
    pub fn with_source(
        kind: ClientErrorKind,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            source: Some(Box::new(source)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ClientErrorKind {
        &self.kind
    }

    /// Splits the error into its kind and source.
    pub fn into_parts(self) -> (ClientErrorKind, Option<Box<dyn StdError + Send + Sync>>) {
        (self.kind, self.source)
    }

    pub(crate) fn invalid_id(what: &'static str, value: impl fmt::Display) -> Self {
        Self::new(ClientErrorKind::InvalidId {
            what,
            value: value.to_string(),
        })
    }

    pub(crate) fn redis(action: impl Into<String>, source: redis::RedisError) -> Self {
        Self::with_source(
            ClientErrorKind::Redis {
                action: action.into(),
            },
            source,
        )
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ClientErrorKind::Config { message } => write!(f, "invalid configuration: {message}"),
            ClientErrorKind::InvalidPattern { message } => f.write_str(message),
            ClientErrorKind::InvalidId { what, value } => write!(
                f,
                "{what} {value:?} is not a snowflake: Discord ids are non-zero unsigned 64-bit integers"
            ),
            ClientErrorKind::Mesh { action } => write!(
                f,
                "event mesh error while {action}; check DDISCORD_MESH_URL and that the broker is up"
            ),
            ClientErrorKind::Redis { action } => write!(
                f,
                "Redis error while {action}; check DDISCORD_REDIS_URL and that Redis is up"
            ),
            ClientErrorKind::CorruptCache { key } => write!(
                f,
                "cached value at Redis key `{key}` is not the JSON the key schema documents; the state worker wrote something else or the key prefix is shared"
            ),
            ClientErrorKind::Payload { event } => {
                write!(f, "payload of {event} does not match the requested type")
            }
            ClientErrorKind::ConnectionLost { reason } => write!(
                f,
                "connection to the event mesh lost ({reason}); the client reconnects and resubscribes in the background, keep reading the stream (events published meanwhile are lost for direct subscriptions)"
            ),
            ClientErrorKind::Closed => f.write_str("the client is closed"),
            ClientErrorKind::Timeout { what } => write!(f, "timed out waiting for {what}"),
            ClientErrorKind::Group { action } => write!(f, "consumer group error while {action}"),
        }?;
        if let Some(source) = &self.source {
            // Keep the cause visible to callers that print only the top-level message
            // (Python and Node).
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for ClientError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl From<crate::topic::TopicError> for ClientError {
    fn from(e: crate::topic::TopicError) -> Self {
        Self::new(ClientErrorKind::InvalidPattern {
            message: e.to_string(),
        })
    }
}

impl From<crate::cache::CacheError> for ClientError {
    fn from(e: crate::cache::CacheError) -> Self {
        match e {
            crate::cache::CacheError::Corrupt { ref key, .. } => {
                let key = key.clone();
                Self::with_source(ClientErrorKind::CorruptCache { key }, e)
            }
            crate::cache::CacheError::Redis(r) => Self::redis("reading the cache", r),
        }
    }
}
