//! The client's error: a kind that says what went wrong and what to do, plus its source; and
//! the stable [`ErrorKind`] list every SDK reports errors with ([`ERROR_KINDS`]).

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
    /// Discord rate-limited a request: a gateway command refused with a RATE_LIMITED dispatch
    /// (<https://discord.com/developers/docs/events/gateway-events#rate-limited>: a request for
    /// every member of a guild is allowed once per guild per 30 s), or a REST request whose turn
    /// in the shared rate limits comes after its deadline, or a bot stopped at the
    /// invalid-request limit
    /// ([`RestErrorKind::RateLimited`](crate::rest::RestErrorKind::RateLimited),
    /// [`RestErrorKind::InvalidRequestLimit`](crate::rest::RestErrorKind::InvalidRequestLimit)).
    RateLimited {
        /// What was refused and when to retry.
        message: String,
        /// How long to wait before trying again, in ms, when known.
        retry_after_ms: Option<u64>,
    },
    /// A consumer group (work queue) failed.
    Group {
        /// What was being done.
        action: String,
    },
    /// An argument has the wrong type or shape (a binding's argument, a command body that is
    /// not a JSON object, a job settled twice).
    InvalidArgument {
        /// What is wrong with it.
        message: String,
    },
    /// A bug: an invariant the code relies on does not hold.
    Internal {
        /// What went wrong.
        message: String,
    },
    /// Discord's HTTP API answered a request with an error status, or could not be reached
    /// ([`RestErrorKind::Discord`](crate::rest::RestErrorKind::Discord),
    /// [`RestErrorKind::Transport`](crate::rest::RestErrorKind::Transport)).
    Discord {
        /// HTTP status (0 when Discord could not be reached).
        status: u16,
        /// Discord's JSON error code (10008 Unknown Message, ...; 0 for none).
        code: u64,
        /// What Discord said, or what failed.
        message: String,
    },
}

impl ClientErrorKind {
    /// The stable kind of this error, the one scripts branch on in every language.
    pub fn error_kind(&self) -> ErrorKind {
        match self {
            Self::Config { .. } => ErrorKind::Config,
            Self::InvalidPattern { .. } => ErrorKind::InvalidPattern,
            Self::InvalidId { .. } => ErrorKind::InvalidId,
            Self::Mesh { .. } => ErrorKind::Mesh,
            Self::Redis { .. } => ErrorKind::Cache,
            Self::CorruptCache { .. } => ErrorKind::CorruptCache,
            Self::Payload { .. } => ErrorKind::Payload,
            Self::ConnectionLost { .. } => ErrorKind::ConnectionLost,
            Self::Closed => ErrorKind::Closed,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Group { .. } => ErrorKind::Group,
            Self::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Self::Internal { .. } => ErrorKind::Internal,
            Self::Discord { .. } => ErrorKind::Discord,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
        }
    }
}

/// The stable kinds of error, the same in Rust, Python and Node: [`ErrorKind::code`] is
/// `err.code` in Node (with a `DDISCORD_` prefix) and each kind has one exception class in
/// Python ([`ErrorKindInfo::python_class`]). Codes never change meaning; kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration value or request that cannot be used.
    Config,
    /// A subscription pattern that breaks Solace syntax or the topic limits, or is on the wrong
    /// tree.
    InvalidPattern,
    /// An id that is not a snowflake (a non-zero unsigned 64-bit integer).
    InvalidId,
    /// An argument of the wrong type or shape.
    InvalidArgument,
    /// The event mesh could not be reached or refused an operation.
    Mesh,
    /// The mesh connection dropped while a subscription was open; it continues after the
    /// reconnect.
    ConnectionLost,
    /// Redis (the cache) could not be reached or answered with an error.
    Cache,
    /// A cached value is not the JSON the key schema documents.
    CorruptCache,
    /// An event payload does not match its event.
    Payload,
    /// The client, subscription or work queue is closed.
    Closed,
    /// An operation did not finish in time.
    Timeout,
    /// Discord rate-limited a gateway command, or a REST request's rate-limit turn would come
    /// after its deadline (or the bot reached the invalid-request limit); the message says when
    /// to retry.
    RateLimited,
    /// A consumer group (work queue) failed.
    Group,
    /// Discord's HTTP API refused a request or could not be reached.
    Discord,
    /// A bug.
    Internal,
}

/// One entry of [`ERROR_KINDS`]: what the bindings need to report a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKindInfo {
    /// The kind.
    pub kind: ErrorKind,
    /// Its stable code, e.g. `INVALID_PATTERN` (`DDISCORD_INVALID_PATTERN` in Node).
    pub code: &'static str,
    /// The Python exception class in `ddiscord.errors`, e.g. `PatternError`.
    pub python_class: &'static str,
    /// The kind whose Python class this one's derives from instead of `DDiscordError`
    /// (`ConnectionLostError` is a `MeshError`).
    pub parent: Option<ErrorKind>,
    /// The Python built-in exception the class also derives from (`ValueError`, ...).
    pub python_builtin: Option<&'static str>,
    /// One line saying when it happens.
    pub doc: &'static str,
}

const fn info(
    kind: ErrorKind,
    code: &'static str,
    python_class: &'static str,
    parent: Option<ErrorKind>,
    python_builtin: Option<&'static str>,
    doc: &'static str,
) -> ErrorKindInfo {
    ErrorKindInfo {
        kind,
        code,
        python_class,
        parent,
        python_builtin,
        doc,
    }
}

/// Every [`ErrorKind`], in declaration order: the one list the Python exception classes and
/// the Node `codes` table are made from (and checked against).
pub const ERROR_KINDS: &[ErrorKindInfo] = &[
    info(
        ErrorKind::Config,
        "CONFIG",
        "ConfigError",
        None,
        Some("ValueError"),
        "A configuration value or request is invalid (e.g. DDISCORD_SHARDS=0).",
    ),
    info(
        ErrorKind::InvalidPattern,
        "INVALID_PATTERN",
        "PatternError",
        None,
        Some("ValueError"),
        "A subscription pattern is not valid Solace syntax or not on the expected topic tree.",
    ),
    info(
        ErrorKind::InvalidId,
        "INVALID_ID",
        "InvalidIdError",
        None,
        Some("ValueError"),
        "An id is not a snowflake (a non-zero unsigned 64-bit integer).",
    ),
    info(
        ErrorKind::InvalidArgument,
        "INVALID_ARGUMENT",
        "InvalidArgumentError",
        None,
        Some("TypeError"),
        "An argument has the wrong type or shape.",
    ),
    info(
        ErrorKind::Mesh,
        "MESH",
        "MeshError",
        None,
        Some("ConnectionError"),
        "The event mesh could not be reached or refused an operation.",
    ),
    info(
        ErrorKind::ConnectionLost,
        "CONNECTION_LOST",
        "ConnectionLostError",
        Some(ErrorKind::Mesh),
        None,
        "The mesh connection dropped while a subscription was open; iterating again continues after the reconnect.",
    ),
    info(
        ErrorKind::Cache,
        "CACHE",
        "CacheError",
        None,
        Some("ConnectionError"),
        "Redis (the cache) could not be reached or answered with an error.",
    ),
    info(
        ErrorKind::CorruptCache,
        "CORRUPT_CACHE",
        "CorruptCacheError",
        Some(ErrorKind::Cache),
        None,
        "A cached value is not the JSON the key schema documents.",
    ),
    info(
        ErrorKind::Payload,
        "PAYLOAD",
        "PayloadError",
        None,
        Some("ValueError"),
        "An event payload does not have the expected shape.",
    ),
    info(
        ErrorKind::Closed,
        "CLOSED",
        "ClosedError",
        None,
        None,
        "The client, subscription or work queue is closed.",
    ),
    info(
        ErrorKind::Timeout,
        "TIMEOUT",
        "TimeoutError",
        None,
        Some("TimeoutError"),
        "An operation did not finish in time (connecting, waiting for member chunks).",
    ),
    info(
        ErrorKind::RateLimited,
        "RATE_LIMITED",
        "RateLimitedError",
        None,
        None,
        "Discord rate-limited a request: a gateway command (every member of a guild: once per 30 s), or a REST request whose rate-limit turn would come after its deadline (or the bot reached the invalid-request limit); the message says when to retry.",
    ),
    info(
        ErrorKind::Group,
        "GROUP",
        "GroupError",
        None,
        None,
        "A consumer group (work queue) failed.",
    ),
    info(
        ErrorKind::Discord,
        "DISCORD",
        "DiscordError",
        None,
        None,
        "Discord's HTTP API answered with an error (status and Discord's JSON code in the message) or could not be reached.",
    ),
    info(
        ErrorKind::Internal,
        "INTERNAL",
        "InternalError",
        None,
        None,
        "A bug in DDiscord; please report it with the message.",
    ),
];

impl ErrorKind {
    /// The stable code, e.g. `INVALID_PATTERN`.
    pub fn code(self) -> &'static str {
        self.info().code
    }

    /// The kind's entry of [`ERROR_KINDS`].
    pub fn info(self) -> &'static ErrorKindInfo {
        // ERROR_KINDS lists every kind in declaration order (a test checks it).
        &ERROR_KINDS[self as usize]
    }

    /// The kind with `code`, if there is one.
    pub fn from_code(code: &str) -> Option<Self> {
        ERROR_KINDS.iter().find(|i| i.code == code).map(|i| i.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
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

    /// The stable kind (`err.code` in Node, the exception class in Python).
    pub fn error_kind(&self) -> ErrorKind {
        self.kind.error_kind()
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

    pub(crate) fn redis_setup(
        action: impl Into<String>,
        source: crate::coord::RedisConnectError,
    ) -> Self {
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
            ClientErrorKind::RateLimited { message, .. } => f.write_str(message),
            ClientErrorKind::Group { action } => write!(f, "consumer group error while {action}"),
            ClientErrorKind::InvalidArgument { message } => f.write_str(message),
            ClientErrorKind::Internal { message } => {
                write!(f, "internal error (a bug, please report it): {message}")
            }
            ClientErrorKind::Discord { message, .. } => f.write_str(message),
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
        let kind = match e.kind() {
            crate::cache::CacheErrorKind::Corrupt { key } => {
                ClientErrorKind::CorruptCache { key: key.clone() }
            }
            crate::cache::CacheErrorKind::Encode => ClientErrorKind::Internal {
                message: "encoding a cached value as JSON".into(),
            },
            _ => ClientErrorKind::Redis {
                action: "reading the cache".into(),
            },
        };
        Self::with_source(kind, e)
    }
}

impl From<crate::snowflake::SnowflakeError> for ClientError {
    fn from(e: crate::snowflake::SnowflakeError) -> Self {
        Self::new(ClientErrorKind::InvalidId {
            what: e.what,
            value: e.value,
        })
    }
}

impl From<crate::cache::CacheQueryError> for ClientError {
    fn from(e: crate::cache::CacheQueryError) -> Self {
        match e {
            crate::cache::CacheQueryError::InvalidId(id) => id.into(),
            other => Self::new(ClientErrorKind::InvalidArgument {
                message: other.to_string(),
            }),
        }
    }
}

impl From<crate::rest::RestError> for ClientError {
    fn from(e: crate::rest::RestError) -> Self {
        use crate::rest::RestErrorKind as K;
        let message = e.to_string();
        let kind = match e.kind() {
            K::InvalidRequest { .. } => ClientErrorKind::InvalidArgument { message },
            K::Discord { status, code, .. } => ClientErrorKind::Discord {
                status: *status,
                code: *code,
                message,
            },
            K::Transport { .. } => ClientErrorKind::Discord {
                status: 0,
                code: 0,
                message,
            },
            K::Redis { action } => ClientErrorKind::Redis {
                action: action.clone(),
            },
            K::RateLimited { retry_after } => ClientErrorKind::RateLimited {
                message,
                retry_after_ms: Some(u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX)),
            },
            K::InvalidRequestLimit { .. } => ClientErrorKind::RateLimited {
                message,
                retry_after_ms: None,
            },
        };
        // The message already carries the cause.
        Self::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_list_is_complete_and_in_order() {
        for (i, info) in ERROR_KINDS.iter().enumerate() {
            assert_eq!(info.kind as usize, i, "{info:?}");
            assert_eq!(info.kind.code(), info.code);
            assert_eq!(ErrorKind::from_code(info.code), Some(info.kind));
            assert!(
                info.code
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_'),
                "{}",
                info.code
            );
            assert!(info.python_class.ends_with("Error"), "{info:?}");
            if let Some(parent) = info.parent {
                assert!(
                    (parent as usize) < i,
                    "a parent is listed before its children"
                );
            }
        }
        assert_eq!(
            ERROR_KINDS.last().map(|i| i.kind),
            Some(ErrorKind::Internal)
        );
    }

    #[test]
    fn client_errors_have_stable_codes() {
        let e = ClientError::invalid_id("guild_id", "x");
        assert_eq!(e.error_kind().code(), "INVALID_ID");
        let e = ClientError::new(ClientErrorKind::ConnectionLost {
            reason: "gone".into(),
        });
        assert_eq!(e.error_kind(), ErrorKind::ConnectionLost);
        assert_eq!(ErrorKind::Cache.info().python_class, "CacheError");
    }
}
