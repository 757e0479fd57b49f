//! Errors of the CLI's own subcommands.

/// What went wrong in a subcommand; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A topic or pattern given on the command line is invalid.
    #[error(transparent)]
    Topic(#[from] ddiscord::TopicError),
    /// The mesh could not be reached or refused the operation.
    #[error("event mesh: {0}")]
    Mesh(#[from] ddiscord::mesh::MeshError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The gateway simulator failed.
    #[error("simulator: {0}")]
    Sim(#[from] ddiscord_sim::SimError),
    /// Ingest failed.
    #[error("ingest: {0}")]
    Ingest(#[from] ddiscord_ingest::IngestError),
    /// The state worker failed.
    #[error("state worker: {0}")]
    Worker(#[from] ddiscord_workers::WorkerError),
    /// The listener for `/healthz`, `/readyz` and `/metrics` could not bind.
    #[error(transparent)]
    Http(#[from] ddiscord_ops::BindError),
    /// The private Redis of `ddiscord up` could not start.
    #[error(transparent)]
    LocalRedis(#[from] crate::up::LocalRedisError),
    /// A local resource `ddiscord up` needs (a temporary directory, a signal handler) could
    /// not be set up.
    #[error("cannot set up {what}: {source}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Redis could not be reached (the URL is not printed: it may hold a password).
    #[error("cannot connect to Redis ({0:?}); check DDISCORD_REDIS_URL and that Redis is up")]
    Redis(redis::ErrorKind),
    /// A Redis operation on coordination data (dead letters) failed.
    #[error("redis: {0}")]
    Coord(#[from] ddiscord::coord::CoordError),
    /// Applying envelopes to the cache failed; nothing after the failed pipeline was applied.
    #[error("projection: {0}")]
    Projection(#[from] ddiscord_workers::ProjectionError),
    /// Some input lines were not envelopes (each is reported as `invalid: …` on stdout).
    #[error(
        "{lines} input lines were not envelopes (see the `invalid:` lines); every other line was applied"
    )]
    NotEnvelopes {
        /// How many.
        lines: usize,
    },
    /// Writing to standard output failed (for example a closed pipe).
    #[error("cannot write to standard output: {0}")]
    Stdout(#[source] std::io::Error),
}
