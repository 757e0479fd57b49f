//! Real servers for tests: a private `redis-server` and a private `mosquitto`, each on a free
//! loopback port with its own data directory, stopped when dropped.
//!
//! Tests never share a server, so they do not depend on order and may restart or kill their
//! server (broker outage, Redis restart) without disturbing other tests. The servers are
//! started by `ddiscord-local-servers`, the one implementation `ddiscord up` and the Python and
//! Node tests (through `ddiscord dev services`) use too: the binaries are found on `PATH` (and
//! `/usr/sbin`), or named by `DDISCORD_REDIS_SERVER` and `DDISCORD_MOSQUITTO`; `scripts/test`
//! installs them when missing.
//!
//! A failing test leaves no server behind: a server is killed when its handle is dropped (also
//! while a panicking test unwinds), and, on Linux, by the kernel when the test process dies
//! without unwinding (killed, aborted), through a parent-death signal.

pub mod bench;

use std::path::{Path, PathBuf};
use std::process::Command;

use ddiscord_local_servers::{ServerError, find_binary};

pub use ddiscord_local_servers::{Pki, Secured, free_port};

/// Why a test server could not be started or read: a [`TestkitErrorKind`], and the error that
/// caused it.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct TestkitError {
    kind: TestkitErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TestkitError {
    /// What went wrong.
    pub fn kind(&self) -> &TestkitErrorKind {
        &self.kind
    }
}

/// The kinds of [`TestkitError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestkitErrorKind {
    /// A server could not be started or restarted (missing binary, no connections in time);
    /// the source says which and why.
    Server,
    /// A client tool of a server (`mosquitto_sub`) could not be run.
    Tool {
        /// The tool.
        tool: &'static str,
    },
    /// A tool printed something other than the expected answer.
    UnexpectedOutput {
        /// What was read.
        what: &'static str,
        /// What the tool printed.
        got: String,
    },
}

impl std::fmt::Display for TestkitErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Server => f.write_str("a private test server failed"),
            Self::Tool { tool } => write!(f, "running `{tool}` failed"),
            Self::UnexpectedOutput { what, got } => {
                write!(f, "reading {what}: expected a number, got {got:?}")
            }
        }
    }
}

impl From<ServerError> for TestkitError {
    fn from(source: ServerError) -> Self {
        Self {
            kind: TestkitErrorKind::Server,
            source: Some(Box::new(source)),
        }
    }
}

/// `GET path` over a fresh connection to `addr` (HTTP/1.0, so the server closes it); the whole
/// answer, status line, headers and body. For the `/healthz`, `/readyz` and `/metrics`
/// endpoints of the processes under test.
///
/// # Errors
/// The I/O error when `addr` cannot be reached or the answer is not UTF-8.
pub async fn http_get(
    addr: impl tokio::net::ToSocketAddrs,
    path: &str,
) -> Result<String, std::io::Error> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).await?;
    Ok(answer)
}

/// The captured Discord payloads, `<repo>/../shared/fixtures/discord`, or `DDISCORD_FIXTURES`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DDISCORD_FIXTURES") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/discord")
}

/// A private `redis-server` on a free port (no persistence to disk unless restarted with
/// `restart`, which keeps the data through an RDB save).
pub use ddiscord_local_servers::Redis as RedisServer;

/// A private `mosquitto` on a free port with the shipped configuration (`start_with` adds
/// lines), persistence in its data directory.
pub use ddiscord_local_servers::Mosquitto;

/// The count of messages `broker` dropped, `$SYS/broker/publish/messages/dropped`, read with
/// `mosquitto_sub` (the broker publishes it every second).
///
/// # Errors
/// [`TestkitError`] when `mosquitto_sub` is missing or prints no number.
pub fn dropped_messages(broker: &Mosquitto) -> Result<u64, TestkitError> {
    let sub = find_binary("mosquitto_sub", "DDISCORD_MOSQUITTO_SUB")?;
    let out = Command::new(sub)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port().to_string(),
            "-C",
            "1",
            "-W",
            "5",
            "-t",
            "$SYS/broker/publish/messages/dropped",
        ])
        .output()
        .map_err(|source| TestkitError {
            kind: TestkitErrorKind::Tool {
                tool: "mosquitto_sub",
            },
            source: Some(Box::new(source)),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().map_err(|_| TestkitError {
        kind: TestkitErrorKind::UnexpectedOutput {
            what: "the drop counter",
            got: text.into_owned(),
        },
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;

    use super::*;

    #[test]
    fn servers_start_and_restart() {
        let mut redis = RedisServer::start().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", redis.port())).is_ok());
        redis.restart().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", redis.port())).is_ok());
        let mut mosq = Mosquitto::start().unwrap();
        assert_eq!(dropped_messages(&mosq).unwrap(), 0);
        mosq.stop();
        assert!(TcpStream::connect(("127.0.0.1", mosq.port())).is_err());
        // A graceful stop saves the persistence database (sessions and queued messages).
        assert!(mosq.dir().join("mosquitto.db").exists());
        mosq.start_again().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", mosq.port())).is_ok());
    }
}
