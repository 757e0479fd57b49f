//! Configuration of a simulator instance.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::clock::ClockMode;
use crate::rest::limits::RestLimitConfig;

/// `GUILD_MEMBERS` intent bit (privileged). See <https://discord.com/developers/docs/events/gateway#gateway-intents>.
pub const INTENT_GUILD_MEMBERS: u64 = 1 << 1;
/// `GUILD_PRESENCES` intent bit (privileged).
pub const INTENT_GUILD_PRESENCES: u64 = 1 << 8;
/// `MESSAGE_CONTENT` intent bit (privileged).
pub const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;
/// All privileged intents.
pub const PRIVILEGED_INTENTS: u64 =
    INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT;

/// A JSONL file to send as one shard's session.
#[derive(Debug, Clone)]
pub struct ReplaySpec {
    /// File of gateway envelopes, one per line (like `events_v10.jsonl`).
    pub path: PathBuf,
    /// Shard whose session receives the dispatches.
    pub shard: u32,
}

/// Everything a simulator instance needs. Build it with [`SimConfig::default`] and change what
/// the test needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on for the gateway websocket, the `/api/v10` endpoints and `/control`
    /// (default `127.0.0.1:0`, a port chosen by the OS).
    pub bind: SocketAddr,
    /// Bot token IDENTIFY and RESUME must carry (with or without the `Bot ` prefix).
    pub token: String,
    /// Shard count the simulator serves and recommends in `GET /api/v10/gateway/bot`.
    pub shards: u32,
    /// Number of small guilds, cloned from the captured GUILD_CREATEs with fresh snowflakes.
    pub guilds: u32,
    /// Add a clone of the captured 9,593-member guild (3 MB GUILD_CREATE).
    pub large_guild: bool,
    /// Directory of the captured payloads; `None` finds `../shared/fixtures/discord` from the
    /// repository root or uses `DDISCORD_FIXTURES`.
    pub fixtures: Option<PathBuf>,
    /// Seed of the traffic generator; the same seed gives the same world and event stream.
    pub seed: u64,
    /// Generated dispatches per second over all shards; 0 generates none.
    pub events_per_sec: f64,
    /// Stop generating after this many ms; `None` runs until shutdown.
    pub duration_ms: Option<u64>,
    /// Dispatches generated before serving and then sent in a loop at `events_per_sec`
    /// (0: generated live, one by one). A benchmark's load generator: sending a pre-generated
    /// dispatch costs a buffer push, not the generator's work, so the simulator does not compete
    /// for CPU with what is measured. The world that IDENTIFY and REST see does not advance
    /// with these dispatches, and a loop repeats the same payloads under new sequences.
    pub pregenerated: usize,
    /// What the traffic does for a shard whose connection has fallen `resume_buffer`
    /// dispatches behind: `false` keeps generating, and the connection is closed once its next
    /// dispatch has left the buffer (as Discord closes a client that does not read); `true`
    /// generates nothing for that shard until it catches up (counted as shed), so a benchmark
    /// can hold the pipeline past its capacity for as long as it likes.
    pub shed_when_behind: bool,
    /// `heartbeat_interval` sent in HELLO, in ms (Discord sends 41250).
    pub heartbeat_interval_ms: u64,
    /// `session_start_limit.total` (IDENTIFYs per reset period).
    pub session_start_total: u32,
    /// `session_start_limit.reset_after` period in ms of simulated time (Discord: 24 h).
    pub session_start_reset_ms: u64,
    /// `session_start_limit.max_concurrency`: IDENTIFY buckets (`shard_id % max_concurrency`),
    /// each allowing one IDENTIFY per 5 s of simulated time (100 ms of jitter tolerated).
    pub max_concurrency: u32,
    /// Privileged intents enabled on the simulated application; asking for others closes 4014.
    pub privileged_intents: u64,
    /// Dispatches kept per session for RESUME; a RESUME older than the buffer gets op 9 `false`.
    pub resume_buffer: usize,
    /// How long (ms of simulated time) a disconnected session stays resumable.
    pub resume_window_ms: u64,
    /// Most guilds one shard may hold before IDENTIFY without sharding closes 4011.
    pub max_guilds_per_shard: u32,
    /// Commands (heartbeats included) a connection may send per 60 s of real time before it is
    /// closed with 4008.
    pub commands_per_minute: u32,
    /// Most entries kept in the send record; 0 disables the record (benchmarks).
    pub record_limit: usize,
    /// Also keep the payload of every recorded first send, served as envelopes at
    /// `GET /control/frames` (tests that rebuild the stream; memory grows with the record).
    pub record_frames: bool,
    /// Real or manual (test-driven) simulated clock.
    pub clock: ClockMode,
    /// Optional JSONL replay instead of generated traffic.
    pub replay: Option<ReplaySpec>,
    /// The bot's Interactions Endpoint URL (`http://host:port/interactions`), where
    /// `POST /control/interaction` sends signed interactions when no `?url=` is given.
    pub interactions_url: Option<String>,
    /// REST rate limits (on by default: 5 requests per second per route bucket, 50 per second
    /// over all routes).
    pub rest_limits: RestLimitConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: "sim-token".to_owned(),
            shards: 1,
            guilds: 4,
            large_guild: false,
            fixtures: None,
            seed: 1,
            events_per_sec: 0.0,
            duration_ms: None,
            pregenerated: 0,
            shed_when_behind: false,
            heartbeat_interval_ms: 41_250,
            session_start_total: 1000,
            session_start_reset_ms: 86_400_000,
            max_concurrency: 1,
            privileged_intents: PRIVILEGED_INTENTS,
            resume_buffer: 10_000,
            resume_window_ms: 180_000,
            max_guilds_per_shard: 2500,
            commands_per_minute: 120,
            record_limit: 1_000_000,
            record_frames: false,
            clock: ClockMode::Real,
            replay: None,
            interactions_url: None,
            rest_limits: RestLimitConfig::default(),
        }
    }
}

impl SimConfig {
    /// Checks the values that would make the simulator misbehave.
    pub(crate) fn validate(&self) -> Result<(), crate::SimError> {
        let err = |m: &str| {
            Err(crate::SimError::new(crate::SimErrorKind::Config(
                m.to_owned(),
            )))
        };
        if self.shards == 0 {
            return err("shards must be at least 1");
        }
        if self.max_concurrency == 0 {
            return err("max_concurrency must be at least 1");
        }
        if self.heartbeat_interval_ms == 0 {
            return err("heartbeat_interval_ms must be at least 1");
        }
        if !(self.events_per_sec.is_finite() && self.events_per_sec >= 0.0) {
            return err("events_per_sec must be a finite number >= 0");
        }
        if self.resume_buffer == 0 {
            return err("resume_buffer must be at least 1");
        }
        if self.rest_limits.route_limit == 0
            || self.rest_limits.route_window_ms == 0
            || self.rest_limits.global_per_sec == 0
        {
            return err("the REST limits must be at least 1 request per window of at least 1 ms");
        }
        if let Some(r) = &self.replay
            && r.shard >= self.shards
        {
            return err("the replay shard must be below the shard count");
        }
        Ok(())
    }
}
