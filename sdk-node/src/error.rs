//! Errors that cross into JavaScript with a stable `err.code`.
//!
//! N-API promises reject with a plain `Error` whose `code` is the N-API status, so the native
//! side writes the DDiscord code in front of the message (`[DDISCORD_INVALID_PATTERN] …`) and
//! the package's JS entry (`index.js`) moves it into `err.code` on a `DDiscordError`. The codes
//! are part of the public API: they never change meaning, new ones may be added.

use std::fmt;

use ddiscord::cache::CacheError;
use ddiscord::client::{ClientError, ClientErrorKind};

/// The stable codes a script can branch on (`err.code` in JavaScript). They mirror the Python
/// package's exception classes (in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A configuration value or request that cannot be used (`ConfigError`).
    Config,
    /// A subscription pattern that breaks a rule or is on the wrong tree (`PatternError`).
    InvalidPattern,
    /// A snowflake that is not a non-zero decimal u64 (`InvalidIdError`).
    InvalidId,
    /// An argument of the wrong JavaScript type or shape (Python raises `TypeError`).
    InvalidArgument,
    /// The event mesh could not be reached or refused an operation (`MeshError`).
    Mesh,
    /// The mesh connection dropped while a subscription was open (`ConnectionLostError`).
    ConnectionLost,
    /// Redis could not be reached or answered with an error (`CacheError`).
    Cache,
    /// A cached value is not the documented JSON (`CorruptCacheError`).
    CorruptCache,
    /// An event payload does not match the expected shape (`PayloadError`).
    Payload,
    /// The client, subscription or consumer was closed (`ClosedError`).
    Closed,
    /// An operation did not finish in time (`TimeoutError`).
    Timeout,
    /// A consumer group (work queue) failed (`GroupError`).
    Group,
    /// A bug: please report it with the message.
    Internal,
}

impl ErrorCode {
    /// The string scripts see in `err.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "DDISCORD_CONFIG",
            Self::InvalidPattern => "DDISCORD_INVALID_PATTERN",
            Self::InvalidId => "DDISCORD_INVALID_ID",
            Self::InvalidArgument => "DDISCORD_INVALID_ARGUMENT",
            Self::Mesh => "DDISCORD_MESH",
            Self::ConnectionLost => "DDISCORD_CONNECTION_LOST",
            Self::Cache => "DDISCORD_CACHE",
            Self::CorruptCache => "DDISCORD_CORRUPT_CACHE",
            Self::Payload => "DDISCORD_PAYLOAD",
            Self::Closed => "DDISCORD_CLOSED",
            Self::Timeout => "DDISCORD_TIMEOUT",
            Self::Group => "DDISCORD_GROUP",
            Self::Internal => "DDISCORD_INTERNAL",
        }
    }

    /// The code of a core client error.
    pub fn of(kind: &ClientErrorKind) -> Self {
        match kind {
            ClientErrorKind::Config { .. } => Self::Config,
            ClientErrorKind::InvalidPattern { .. } => Self::InvalidPattern,
            ClientErrorKind::InvalidId { .. } => Self::InvalidId,
            ClientErrorKind::Mesh { .. } => Self::Mesh,
            ClientErrorKind::ConnectionLost { .. } => Self::ConnectionLost,
            ClientErrorKind::Redis { .. } => Self::Cache,
            ClientErrorKind::CorruptCache { .. } => Self::CorruptCache,
            ClientErrorKind::Payload { .. } => Self::Payload,
            ClientErrorKind::Closed => Self::Closed,
            ClientErrorKind::Timeout { .. } => Self::Timeout,
            ClientErrorKind::Group { .. } => Self::Group,
            _ => Self::Internal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error on its way to JavaScript: a code and a message that says what to do.
#[derive(Debug, thiserror::Error)]
#[error("[{code}] {message}")]
pub struct NodeError {
    code: ErrorCode,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl NodeError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`, whose message is appended.
    pub fn with_source(
        code: ErrorCode,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let message = format!("{}: {source}", message.into());
        Self {
            code,
            message,
            source: Some(Box::new(source)),
        }
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message without the code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` in front of its message.
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The error scripts get after using a closed object.
    pub fn closed(what: &str) -> Self {
        Self::new(
            ErrorCode::Closed,
            format!("this {what} is closed; connect() again to continue"),
        )
    }
}

impl From<NodeError> for napi::Error {
    fn from(e: NodeError) -> Self {
        napi::Error::new(napi::Status::GenericFailure, e.to_string())
    }
}

impl From<ClientError> for NodeError {
    fn from(e: ClientError) -> Self {
        let code = ErrorCode::of(e.kind());
        let message = e.to_string();
        Self {
            code,
            message,
            source: Some(Box::new(e)),
        }
    }
}

impl From<CacheError> for NodeError {
    fn from(e: CacheError) -> Self {
        let code = match e {
            CacheError::Redis(_) => ErrorCode::Cache,
            CacheError::Corrupt { .. } => ErrorCode::CorruptCache,
        };
        let message = e.to_string();
        Self {
            code,
            message,
            source: Some(Box::new(e)),
        }
    }
}

/// `Result` with a [`NodeError`].
pub type Result<T, E = NodeError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_leads_the_message() {
        let e = NodeError::new(ErrorCode::InvalidId, "guild id `x` is not a snowflake");
        assert_eq!(
            e.to_string(),
            "[DDISCORD_INVALID_ID] guild id `x` is not a snowflake"
        );
        let n: napi::Error = e.into();
        assert!(n.reason.starts_with("[DDISCORD_INVALID_ID] "));
    }
}
