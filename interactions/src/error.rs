//! Errors of the interactions endpoint process.

use std::fmt;
use std::net::SocketAddr;

/// Why the endpoint could not start or stopped.
///
/// [`InteractionsError::kind`] says what went wrong and what to check; the source is kept.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct InteractionsError {
    kind: InteractionsErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InteractionsError {
    pub(crate) fn new(kind: InteractionsErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: InteractionsErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::new(InteractionsErrorKind::Config {
            reason: reason.into(),
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> &InteractionsErrorKind {
        &self.kind
    }
}

/// The kinds of [`InteractionsError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InteractionsErrorKind {
    /// A setting cannot work; the reason names the environment variable to fix.
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The mesh could not be reached or the URL is invalid.
    Mesh,
    /// The interactions listener could not bind its address.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The listener for `/healthz`, `/readyz` and `/metrics` could not bind.
    Http,
    /// A task of the endpoint panicked or was cancelled, or a signal handler could not be set.
    Task,
}

impl fmt::Display for InteractionsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config { reason } => {
                write!(f, "invalid interactions endpoint configuration: {reason}")
            }
            Self::Mesh => f.write_str(
                "cannot connect to the mesh; check DDISCORD_MESH_URL and that the broker is up",
            ),
            Self::Bind { addr } => write!(
                f,
                "cannot listen on {addr} for POST /interactions; choose a free address with DDISCORD_INTERACTIONS_ADDR"
            ),
            Self::Http => f.write_str(
                "the listener for /healthz, /readyz and /metrics could not start; \
                 choose a free address with DDISCORD_HTTP_ADDR",
            ),
            Self::Task => f.write_str("an interactions endpoint task ended abnormally"),
        }
    }
}

impl From<ddiscord_ops::BindError> for InteractionsError {
    fn from(e: ddiscord_ops::BindError) -> Self {
        Self::with_source(InteractionsErrorKind::Http, e)
    }
}
