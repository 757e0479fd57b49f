//! A private `redis-server` for `ddiscord up` when no `DDISCORD_REDIS_URL` is given, started
//! by `ddiscord-local-servers` (the one implementation the tests use too).
//!
//! It listens on a free loopback port, keeps its data in a directory of its own, and runs in a
//! process group of its own, so that Ctrl-C in a terminal (SIGINT to the foreground process
//! group) reaches only `ddiscord`, which stops it last, after ingest and the state worker. It
//! is killed when this handle is dropped, by [`kill_private_redis`] (a second Ctrl-C), and, on
//! Linux, by the kernel when `ddiscord` dies (parent-death signal SIGKILL).

use std::fmt;
use std::path::Path;

use ddiscord_local_servers::{Redis, ServerError, ServerErrorKind};

/// Why the private Redis could not be started: a [`LocalRedisErrorKind`], and the error that
/// caused it.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct LocalRedisError {
    kind: LocalRedisErrorKind,
    #[source]
    source: ServerError,
}

impl LocalRedisError {
    /// What went wrong.
    #[allow(dead_code)] // the binary reports the error; the kind is for code that handles it
    pub fn kind(&self) -> &LocalRedisErrorKind {
        &self.kind
    }
}

/// The kinds of [`LocalRedisError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalRedisErrorKind {
    /// No `redis-server` binary.
    NotInstalled,
    /// It could not be started, or did not accept connections.
    Start,
}

impl fmt::Display for LocalRedisErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotInstalled => {
                "redis-server is not installed: run `scripts/up` (it installs it), install Debian's redis-server package, or set DDISCORD_REDIS_URL to a Redis you run"
            }
            Self::Start => "cannot start the private redis-server",
        })
    }
}

impl From<ServerError> for LocalRedisError {
    fn from(source: ServerError) -> Self {
        let kind = match source.kind() {
            ServerErrorKind::NotInstalled { .. } => LocalRedisErrorKind::NotInstalled,
            _ => LocalRedisErrorKind::Start,
        };
        Self { kind, source }
    }
}

/// Kills every private `redis-server` still running (SIGKILL), for an exit that cannot wait
/// for the handles to be dropped (a second Ctrl-C).
pub fn kill_private_redis() {
    ddiscord_local_servers::kill_all();
}

/// A running private `redis-server`.
#[derive(Debug)]
pub struct LocalRedis(Redis);

impl LocalRedis {
    /// Starts `redis-server` on a free loopback port with its data (and its log,
    /// `server.log`) in `dir`.
    ///
    /// # Errors
    /// [`LocalRedisError`] when the binary is missing or the server does not come up.
    pub fn start(dir: &Path) -> Result<Self, LocalRedisError> {
        Ok(Self(Redis::start_in(dir)?))
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.0.pid()
    }

    /// Stops the server (SIGKILL: its data is temporary) and waits for it to exit.
    pub fn stop(&mut self) {
        self.0.kill();
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

impl From<LocalRedisError> for crate::cmd::error::CliError {
    fn from(e: LocalRedisError) -> Self {
        Self::with_source(crate::cmd::error::CliErrorKind::LocalRedis, e)
    }
}
