//! Errors of the simulator.

use std::path::PathBuf;

/// Everything that can stop the simulator from starting or running.
///
/// Each variant carries its source and says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
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
        /// The I/O error.
        #[source]
        source: std::io::Error,
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
        /// The JSON error, if any.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// The listening socket could not be bound.
    #[error("could not bind the simulator to {addr}; pick another address or port (--bind)")]
    Bind {
        /// Address that was tried.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP/websocket server stopped with an error.
    #[error("the simulator's server stopped unexpectedly; restart it")]
    Serve(#[source] std::io::Error),
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
        /// The I/O error.
        #[source]
        source: std::io::Error,
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
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The task building the world from the fixtures died.
    #[error(
        "building the world from the fixtures failed unexpectedly; retry, and report it if it repeats"
    )]
    WorldTask(#[source] tokio::task::JoinError),
    /// Waiting for Ctrl-C failed.
    #[error("could not listen for Ctrl-C; run the simulator in a terminal or stop it with SIGKILL")]
    Signal(#[source] std::io::Error),
}
