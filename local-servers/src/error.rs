//! Why a server could not be started.

use std::fmt;
use std::path::PathBuf;

/// A server that could not be found, started or reached: a [`ServerErrorKind`], and the error
/// that caused it.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct ServerError {
    kind: ServerErrorKind,
    #[source]
    source: Option<std::io::Error>,
}

impl ServerError {
    pub(crate) fn new(kind: ServerErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// A mapper of an I/O error met while doing `what` into [`ServerErrorKind::Io`].
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self {
            kind: ServerErrorKind::Io { what },
            source: Some(source),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ServerErrorKind {
        &self.kind
    }
}

/// The kinds of [`ServerError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// The server's binary is not installed (not on `PATH`, nor named by its environment
    /// variable).
    NotInstalled {
        /// The binary, `redis-server` or `mosquitto`.
        binary: &'static str,
        /// The environment variable that names it.
        env: &'static str,
    },
    /// Creating its directory, starting it or signalling it failed.
    Io {
        /// What was being done.
        what: String,
    },
    /// It did not accept connections within 10 s, or exited first (a bad configuration line,
    /// a port taken).
    NotReady {
        /// The server.
        name: &'static str,
        /// The port it was given.
        port: u16,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
}

impl fmt::Display for ServerErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInstalled { binary, env } => write!(
                f,
                "`{binary}` not found on PATH; run scripts/test or scripts/up, which install it, or set {env}"
            ),
            Self::Io { what } => write!(f, "{what} failed"),
            Self::NotReady {
                name,
                port,
                log,
                tail,
            } => write!(
                f,
                "{name} did not accept connections on 127.0.0.1:{port}; its log {}: {tail}",
                log.display()
            ),
        }
    }
}
