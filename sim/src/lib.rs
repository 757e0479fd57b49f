//! DDiscord's Discord gateway simulator and traffic generator.
//!
//! It speaks the gateway as described in <https://discord.com/developers/docs/events/gateway>
//! (API v10, JSON, optional `zlib-stream`/`zstd-stream` transport compression), well enough for
//! twilight-gateway 0.18 pointed at it with `ConfigBuilder::proxy_url`: HELLO, heartbeats,
//! IDENTIFY checked as Discord checks it, READY and GUILD_CREATE, generated dispatches, RESUME
//! from a per-session buffer, op 7 RECONNECT and op 9 INVALID_SESSION on demand, zombie
//! connections and TCP drops, `session_start_limit` and `max_concurrency` on a clock tests can
//! advance.
//!
//! Guilds are cloned from the captures in `../shared/fixtures/discord` with fresh snowflakes;
//! traffic is seeded and consistent with the world.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ddiscord_sim::SimError> {
//! use ddiscord_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig { shards: 2, events_per_sec: 100.0, ..SimConfig::default() }).await?;
//! println!("point twilight at {}", sim.ws_url());
//! sim.reconnect(0)?;
//! let record = sim.record();
//! # drop(record);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod cli;
pub mod clock;
pub mod config;
mod control;
mod error;
pub mod fixtures;
pub mod gateway;
pub mod interactions;
pub mod record;
pub mod replay;
mod rest;
mod sim;
mod state;
pub mod traffic;
pub mod world;

pub use cli::{SimArgs, run};
pub use clock::{ClockMode, SimClock};
pub use config::{ReplaySpec, SimConfig};
pub use error::{SimError, SimErrorKind};
pub use gateway::close::CloseCode;
pub use gateway::compression::Compression;
pub use gateway::identify::SessionStartLimit;
pub use record::{ConnectionInfo, RecordSnapshot, SentDispatch, ShardCounts};
pub use rest::limits::{RestCounts, RestLimitConfig};
pub use sim::{SimHandle, Simulator};
pub use state::ConnCommand;
