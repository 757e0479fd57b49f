//! Errors of the CLI's own subcommands.

use std::fmt;

/// What went wrong in a subcommand: [`CliError::kind`] says what and what to do, the source
/// (printed by `main` as `caused by:` lines) says why.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct CliError {
    kind: CliErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CliError {
    pub(crate) fn new(kind: CliErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// An error of `kind` caused by `source`.
    pub(crate) fn with_source(
        kind: CliErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// A local resource (a temporary directory, a signal handler, a log file) could not be
    /// set up.
    pub(crate) fn setup(what: &'static str, source: std::io::Error) -> Self {
        Self::with_source(CliErrorKind::Setup { what }, source)
    }

    /// A file could not be read.
    pub(crate) fn read(path: impl Into<String>, source: std::io::Error) -> Self {
        Self::with_source(CliErrorKind::Read { path: path.into() }, source)
    }

    /// Writing to standard output failed.
    pub(crate) fn stdout(source: std::io::Error) -> Self {
        Self::with_source(CliErrorKind::Stdout, source)
    }

    /// What went wrong.
    #[allow(dead_code)]
    pub fn kind(&self) -> &CliErrorKind {
        &self.kind
    }
}

/// The kinds of [`CliError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CliErrorKind {
    /// A topic or pattern given on the command line is invalid.
    Topic,
    /// The mesh could not be reached or refused the operation.
    Mesh,
    /// A file could not be read.
    Read {
        /// The file.
        path: String,
    },
    /// The gateway simulator failed.
    Sim,
    /// Ingest failed.
    Ingest,
    /// The state worker failed.
    Worker,
    /// The interactions endpoint failed.
    Interactions,
    /// The listener for `/healthz`, `/readyz` and `/metrics` could not bind.
    Http,
    /// The private Redis of `ddiscord up` could not start.
    LocalRedis,
    /// A local resource `ddiscord up` needs (a temporary directory, a signal handler, a log
    /// file) could not be set up.
    Setup {
        /// What was being set up.
        what: &'static str,
    },
    /// Redis could not be reached or refused the credentials; the source says which and what
    /// to fix (the URL's password is never printed).
    Redis,
    /// A Redis operation on coordination data (dead letters) failed.
    Coord,
    /// Applying envelopes to the cache failed; nothing after the failed pipeline was applied.
    Projection,
    /// Some input lines were not envelopes (each is reported as `invalid: …` on stdout).
    NotEnvelopes {
        /// How many.
        lines: usize,
    },
    /// Writing to standard output failed (for example a closed pipe).
    Stdout,
}

impl fmt::Display for CliErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Topic => f.write_str("invalid topic or pattern"),
            Self::Mesh => f.write_str("event mesh operation failed; check DDISCORD_MESH_URL"),
            Self::Read { path } => write!(f, "cannot read {path}"),
            Self::Sim => f.write_str("the simulator failed"),
            Self::Ingest => f.write_str("ingest failed"),
            Self::Worker => f.write_str("the state worker failed"),
            Self::Interactions => f.write_str("the interactions endpoint failed"),
            Self::Http => f.write_str(
                "the listener for /healthz, /readyz and /metrics could not start; \
                 choose a free address with DDISCORD_HTTP_ADDR",
            ),
            Self::LocalRedis => f.write_str("the private Redis could not start"),
            Self::Setup { what } => write!(f, "cannot set up {what}"),
            Self::Redis => f.write_str("cannot connect to Redis"),
            Self::Coord => f.write_str("a Redis operation on coordination data failed"),
            Self::Projection => f.write_str(
                "applying envelopes to the cache failed; nothing after the failed pipeline was applied",
            ),
            Self::NotEnvelopes { lines } => write!(
                f,
                "{lines} input lines were not envelopes (see the `invalid:` lines); every other line was applied"
            ),
            Self::Stdout => f.write_str("cannot write to standard output"),
        }
    }
}

/// `From` conversions that keep the component's error as the source.
macro_rules! from_source {
    ($($ty:ty => $kind:ident),* $(,)?) => {
        $(impl From<$ty> for CliError {
            fn from(e: $ty) -> Self {
                Self::with_source(CliErrorKind::$kind, e)
            }
        })*
    };
}

from_source! {
    ddiscord::TopicError => Topic,
    ddiscord::mesh::MeshError => Mesh,
    ddiscord_sim::SimError => Sim,
    ddiscord_ingest::IngestError => Ingest,
    ddiscord_workers::WorkerError => Worker,
    ddiscord_interactions::InteractionsError => Interactions,
    ddiscord_ops::BindError => Http,
    ddiscord::coord::CoordError => Coord,
    ddiscord::coord::RedisConnectError => Redis,
    ddiscord_workers::ProjectionError => Projection,
}
