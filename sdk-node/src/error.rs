//! Errors that cross into JavaScript with a stable `err.code`.
//!
//! N-API promises reject with a plain `Error` whose `code` is the N-API status, so the native
//! side writes the DDiscord code in front of the message (`[DDISCORD_INVALID_PATTERN] …`) and
//! the package's JS entry (`index.js`) moves it into `err.code` on a `DDiscordError`. The codes
//! are part of the public API: they never change meaning, new ones may be added.

use std::fmt;

/// The stable codes a script can branch on (`err.code` in JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A subscription pattern that breaks a rule (Solace syntax, length, levels).
    InvalidPattern,
    /// A topic to publish on that breaks a rule.
    InvalidTopic,
    /// A snowflake (guild, user, channel, role id) that is not a decimal u64.
    InvalidId,
    /// Another argument that is out of range or of the wrong shape.
    InvalidArgument,
    /// A configuration value (URL, prefix, root) that cannot be used.
    InvalidConfig,
    /// The broker or Redis could not be reached, or the connection was lost.
    Connection,
    /// The client, subscription or consumer was closed.
    Closed,
    /// A payload larger than the mesh allows.
    PayloadTooLarge,
    /// A cache entry that could not be read or decoded.
    Cache,
    /// The operation did not finish in time.
    Timeout,
    /// A bug: please report it with the message.
    Internal,
}

impl ErrorCode {
    /// The string scripts see in `err.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidPattern => "DDISCORD_INVALID_PATTERN",
            Self::InvalidTopic => "DDISCORD_INVALID_TOPIC",
            Self::InvalidId => "DDISCORD_INVALID_ID",
            Self::InvalidArgument => "DDISCORD_INVALID_ARGUMENT",
            Self::InvalidConfig => "DDISCORD_INVALID_CONFIG",
            Self::Connection => "DDISCORD_CONNECTION",
            Self::Closed => "DDISCORD_CLOSED",
            Self::PayloadTooLarge => "DDISCORD_PAYLOAD_TOO_LARGE",
            Self::Cache => "DDISCORD_CACHE",
            Self::Timeout => "DDISCORD_TIMEOUT",
            Self::Internal => "DDISCORD_INTERNAL",
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

    /// The error scripts get after using a closed object.
    pub fn closed(what: &str) -> Self {
        Self::new(
            ErrorCode::Closed,
            format!("this {what} is closed; create a new one (connect() again) to continue"),
        )
    }
}

impl From<NodeError> for napi::Error {
    fn from(e: NodeError) -> Self {
        napi::Error::new(napi::Status::GenericFailure, e.to_string())
    }
}

impl From<ddiscord::TopicError> for NodeError {
    fn from(e: ddiscord::TopicError) -> Self {
        Self::new(ErrorCode::InvalidPattern, e.to_string())
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
