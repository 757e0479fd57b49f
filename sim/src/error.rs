//! Errors of the simulator.

use std::path::PathBuf;

/// Everything that can stop the simulator from starting or running.
///
/// [`SimError::kind`] says what went wrong and what to do; the source (an I/O or JSON error)
/// is kept.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct SimError {
    kind: SimErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SimError {
    pub(crate) fn new(kind: SimErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: SimErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &SimErrorKind {
        &self.kind
    }
}

/// The kinds of [`SimError`]; each says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimErrorKind {
    /// The fixtures directory could not be found.
    #[error(
        "the Discord fixtures directory {path} does not exist; set DDISCORD_FIXTURES (or --fixtures) to the directory holding events_v10.jsonl"
    )]
    FixturesMissing {
        /// Directory that was tried.
        path: PathBuf,
    },
    /// A fixture file could not be read.
    #[error("could not read fixture file {path}; check that it exists and is readable")]
    FixtureRead {
        /// File that was read.
        path: PathBuf,
    },
    /// A fixture file is not the JSON it should be.
    #[error(
        "fixture file {path} is not valid gateway JSON ({what}); restore it from the shared fixtures"
    )]
    FixtureJson {
        /// File that was parsed.
        path: PathBuf,
        /// What was expected.
        what: String,
    },
    /// The listening socket could not be bound.
    #[error("could not bind the simulator to {addr}; pick another address or port (--bind)")]
    Bind {
        /// Address that was tried.
        addr: std::net::SocketAddr,
    },
    /// The HTTP/websocket server stopped with an error.
    #[error("the simulator's server stopped unexpectedly; restart it")]
    Serve,
    /// A configuration value is out of range.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// A shard number outside the configured shard count was given to a control call.
    #[error("shard {shard} does not exist; the simulator serves shards 0..{count}")]
    NoSuchShard {
        /// Shard asked for.
        shard: u32,
        /// Configured shard count.
        count: u32,
    },
    /// A replay file could not be read.
    #[error("could not read replay file {path}; check the path given to --replay")]
    ReplayRead {
        /// File that was read.
        path: PathBuf,
    },
    /// A replay line is not a gateway envelope.
    #[error(
        "line {line} of replay file {path} is not a gateway envelope with op, t and d; fix or remove it"
    )]
    ReplayLine {
        /// File being replayed.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// The task building the world from the fixtures died.
    #[error(
        "building the world from the fixtures failed unexpectedly; retry, and report it if it repeats"
    )]
    WorldTask,
    /// Waiting for Ctrl-C failed.
    #[error("could not listen for Ctrl-C; run the simulator in a terminal or stop it with SIGKILL")]
    Signal,
}
