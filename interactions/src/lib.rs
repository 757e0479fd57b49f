//! # ddiscord-interactions
//!
//! Discord's HTTP interactions endpoint (`ddiscord interactions`): Discord POSTs each
//! interaction to the bot's Interactions Endpoint URL, signed with Ed25519, and waits at most
//! 3 s for the answer
//! (<https://discord.com/developers/docs/interactions/overview#preparing-for-interactions>,
//! <https://discord.com/developers/docs/interactions/receiving-and-responding>).
//!
//! ```text
//! Discord ──POST /interactions──▶ endpoint replica ──<root>/<shard>/<guild>/INTERACTION_CREATE──▶ scripts
//!    ▲                               │  ▲                                                         │
//!    └── reply, or deferral (5/6) ◀──┘  └──── <root>-interaction-reply/<interaction id> ◀─────────┘
//! ```
//!
//! - [`verify`]: the signature and timestamp check (401 when it fails).
//! - [`response`]: PONG, deferrals by interaction type.
//! - [`Endpoint`]: the listener, the publish and the wait for a script's reply.
//!
//! The INTERACTION_CREATE envelope has the shape ingest publishes for the gateway's
//! INTERACTION_CREATE (`topics.yaml`, `envelope`), with `session` and `s` null, so scripts
//! subscribe the same way to both. `docs/interactions.md` has the whole contract.

mod config;
mod endpoint;
mod error;
pub mod response;
pub mod verify;

pub use config::{
    DEFAULT_DEADLINE_MS, DEFAULT_MAX_AGE_SECS, DISCORD_DEADLINE, InteractionsArgs,
    InteractionsConfig,
};
pub use endpoint::{EVENT, Endpoint, EndpointHandle, PATH};
pub use error::{InteractionsError, InteractionsErrorKind};
pub use verify::{Verifier, VerifyError};

/// Runs the endpoint until SIGTERM or Ctrl-C, then stops gracefully (requests in hand are
/// answered). The `ddiscord interactions` subcommand.
///
/// # Errors
/// [`InteractionsError`] when the configuration is invalid, the mesh cannot be reached at
/// start, an address cannot be bound, or the listener fails.
pub async fn run(args: InteractionsArgs) -> Result<(), InteractionsError> {
    let config = InteractionsConfig::try_from(args)?;
    let mut handle = Endpoint::start(config).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| InteractionsError::with_source(InteractionsErrorKind::Task, e))?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping the interactions endpoint"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping the interactions endpoint"),
        result = handle.finished() => return result,
    }
    handle.shutdown().await
}
