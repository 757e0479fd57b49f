//! The error of [`Rest`](super::Rest) calls: a kind that says what went wrong and what to do,
//! plus its source.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// An error of a REST call: match on [`RestError::kind`]; the
/// [`source`](StdError::source) is the underlying HTTP, Redis or twilight-http error.
#[derive(Debug)]
pub struct RestError {
    kind: RestErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestErrorKind {
    /// The request could not be built: an id of 0, a body twilight-http refuses, a bad base
    /// URL or token.
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// Discord answered with an error status
    /// (<https://discord.com/developers/docs/reference#error-messages>): `code` is Discord's
    /// JSON error code (10008 Unknown Message, 10007 Unknown Member, ..., 0 when the body has
    /// none) and `body` the JSON as sent.
    Discord {
        /// HTTP status (400, 403, 404, 429, ...).
        status: u16,
        /// Discord's JSON error code.
        code: u64,
        /// Discord's message.
        message: String,
        /// The body as sent.
        body: String,
    },
    /// The request would wait past its deadline for its turn in the rate limits
    /// (<https://discord.com/developers/docs/topics/rate-limits>); nothing was sent.
    RateLimited {
        /// How long the request would have had to wait.
        retry_after: Duration,
    },
    /// The bot's processes together got `count` responses 401, 403 or 429 in the last 10
    /// minutes, the shared stop before Cloudflare's 10,000 bans the IP
    /// (<https://discord.com/developers/docs/topics/rate-limits#invalid-request-limit-aka-cloudflare-bans>):
    /// no request is sent until the window has room again. Fix what causes them (a wrong token,
    /// missing permissions).
    InvalidRequestLimit {
        /// Invalid requests in the window.
        count: u64,
    },
    /// Discord (or the simulator) could not be reached, or the connection broke.
    Transport {
        /// What was being done.
        action: String,
    },
    /// Redis, where the rate limits are shared, could not be reached or refused a script.
    Redis {
        /// What was being done.
        action: String,
    },
}

impl RestError {
    pub(crate) fn new(kind: RestErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: RestErrorKind,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &RestErrorKind {
        &self.kind
    }

    /// Discord's HTTP status and JSON error code, for [`RestErrorKind::Discord`].
    pub fn discord_code(&self) -> Option<(u16, u64)> {
        match &self.kind {
            RestErrorKind::Discord { status, code, .. } => Some((*status, *code)),
            _ => None,
        }
    }
}

impl fmt::Display for RestErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRequest { message } => write!(f, "invalid REST request: {message}"),
            Self::Discord {
                status,
                code,
                message,
                ..
            } => write!(f, "Discord answered {status} (code {code}): {message}"),
            Self::RateLimited { retry_after } => write!(
                f,
                "rate limited: the request's turn comes in {} ms, after its deadline; retry later or give it a longer deadline",
                retry_after.as_millis()
            ),
            Self::InvalidRequestLimit { count } => write!(
                f,
                "the bot made {count} invalid requests (401, 403, 429) in the last 10 minutes; REST is stopped before Cloudflare bans the IP: fix the token or permissions"
            ),
            Self::Transport { action } => {
                write!(
                    f,
                    "could not reach Discord while {action}; check the network and the base URL"
                )
            }
            Self::Redis { action } => write!(
                f,
                "Redis, which holds the shared rate limits, failed while {action}; check DDISCORD_REDIS_URL"
            ),
        }
    }
}

impl fmt::Display for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl StdError for RestError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
