//! `ddiscord sim`: command-line flags (each also an environment variable) and the run loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::ClockMode;
use crate::config::{
    INTENT_GUILD_MEMBERS, INTENT_GUILD_PRESENCES, INTENT_MESSAGE_CONTENT, ReplaySpec, SimConfig,
};
use crate::{SimError, SimErrorKind, Simulator};

/// A privileged intent that the simulated application has enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrivilegedIntent {
    /// `GUILD_MEMBERS` (1 << 1).
    Members,
    /// `GUILD_PRESENCES` (1 << 8).
    Presences,
    /// `MESSAGE_CONTENT` (1 << 15).
    MessageContent,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// Flags of `ddiscord sim`. Every flag can also be set by the environment variable shown.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on for the gateway websocket, /api/v10 and /control (port 0: any free port).
    #[arg(long, env = "DDISCORD_SIM_BIND", default_value = "127.0.0.1:0")]
    pub bind: SocketAddr,
    /// Bot token that IDENTIFY and RESUME must carry.
    #[arg(
        long,
        env = "DDISCORD_SIM_TOKEN",
        default_value = "sim-token",
        hide_env_values = true
    )]
    pub token: String,
    /// Shard count served (and recommended by GET /api/v10/gateway/bot).
    #[arg(long, env = "DDISCORD_SIM_SHARDS", default_value_t = 1)]
    pub shards: u32,
    /// Number of small guilds cloned from the captures with fresh snowflakes.
    #[arg(long, env = "DDISCORD_SIM_GUILDS", default_value_t = 4)]
    pub guilds: u32,
    /// Also clone the captured 9,593-member guild (a 3 MB GUILD_CREATE).
    #[arg(long, env = "DDISCORD_SIM_LARGE_GUILD")]
    pub large_guild: bool,
    /// Directory of the captured payloads (default: the repository's ../shared/fixtures/discord).
    #[arg(long, env = "DDISCORD_FIXTURES")]
    pub fixtures: Option<PathBuf>,
    /// Seed of the world and traffic; the same seed gives the same stream.
    #[arg(long, env = "DDISCORD_SIM_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Generated dispatches per second over all shards (0: none).
    #[arg(long, env = "DDISCORD_SIM_EVENTS_PER_SEC", default_value_t = 10.0)]
    pub events_per_sec: f64,
    /// Stop generating after this many seconds (default: until Ctrl-C).
    #[arg(long, env = "DDISCORD_SIM_DURATION_SECS")]
    pub duration_secs: Option<u64>,
    /// Generate this many dispatches before serving and send them in a loop (0: generate live).
    /// For benchmarks: the simulator then costs little CPU per dispatch; the world seen by
    /// IDENTIFY and REST does not advance with them.
    #[arg(long, env = "DDISCORD_SIM_PREGENERATE", default_value_t = 0)]
    pub pregenerate: usize,
    /// Generate nothing for a shard whose connection is a whole resume buffer behind, instead
    /// of closing it as Discord would (for benchmarks past capacity; counted as shed).
    #[arg(long, env = "DDISCORD_SIM_SHED_WHEN_BEHIND")]
    pub shed_when_behind: bool,
    /// heartbeat_interval sent in HELLO, in ms.
    #[arg(
        long,
        env = "DDISCORD_SIM_HEARTBEAT_INTERVAL_MS",
        default_value_t = 41_250
    )]
    pub heartbeat_interval_ms: u64,
    /// session_start_limit.max_concurrency: IDENTIFY buckets per 5 s.
    #[arg(long, env = "DDISCORD_SIM_MAX_CONCURRENCY", default_value_t = 1)]
    pub max_concurrency: u32,
    /// session_start_limit.total: IDENTIFYs per reset period (24 h of simulated time).
    #[arg(long, env = "DDISCORD_SIM_SESSION_START_TOTAL", default_value_t = 1000)]
    pub session_start_total: u32,
    /// Privileged intents enabled on the simulated application (comma-separated; others close 4014).
    #[arg(
        long,
        env = "DDISCORD_SIM_PRIVILEGED_INTENTS",
        value_delimiter = ',',
        default_value = "members,presences,message-content"
    )]
    pub privileged_intents: Vec<PrivilegedIntent>,
    /// Dispatches kept per session for RESUME.
    #[arg(long, env = "DDISCORD_SIM_RESUME_BUFFER", default_value_t = 10_000)]
    pub resume_buffer: usize,
    /// Seconds a disconnected session stays resumable.
    #[arg(long, env = "DDISCORD_SIM_RESUME_WINDOW_SECS", default_value_t = 180)]
    pub resume_window_secs: u64,
    /// Most dispatches kept in the record served at GET /control/record (0: no record).
    #[arg(long, env = "DDISCORD_SIM_RECORD_LIMIT", default_value_t = 200_000)]
    pub record_limit: usize,
    /// Also keep every recorded dispatch's payload, served as envelopes at GET /control/frames.
    #[arg(long, env = "DDISCORD_SIM_RECORD_FRAMES")]
    pub record_frames: bool,
    /// Clock of the 5 s IDENTIFY windows and other limits: real, or manual (moved by POST /control/advance).
    #[arg(long, env = "DDISCORD_SIM_CLOCK", value_enum, default_value_t = ClockMode::Real)]
    pub clock: ClockMode,
    /// JSONL of gateway envelopes to send as one shard's session instead of generated traffic.
    #[arg(long, env = "DDISCORD_SIM_REPLAY")]
    pub replay: Option<PathBuf>,
    /// Apply Discord's REST rate limits (per-route buckets and the global limit): on or off.
    #[arg(long, env = "DDISCORD_SIM_REST_LIMITS", value_enum, default_value_t = Switch::On)]
    pub rest_limits: Switch,
    /// Requests per window of each REST route bucket (per channel, guild or webhook).
    #[arg(long, env = "DDISCORD_SIM_REST_ROUTE_LIMIT", default_value_t = 5)]
    pub rest_route_limit: u32,
    /// Length of a REST route bucket's window, in ms.
    #[arg(
        long,
        env = "DDISCORD_SIM_REST_ROUTE_WINDOW_MS",
        default_value_t = 1000
    )]
    pub rest_route_window_ms: u64,
    /// REST requests per second over every route but interactions (Discord: 50).
    #[arg(long, env = "DDISCORD_SIM_REST_GLOBAL_LIMIT", default_value_t = 50)]
    pub rest_global_limit: u32,
    /// Shard whose session receives the replay.
    #[arg(long, env = "DDISCORD_SIM_REPLAY_SHARD", default_value_t = 0)]
    pub replay_shard: u32,
    /// The bot's Interactions Endpoint URL (http://host:port/interactions) that
    /// POST /control/interaction signs and sends interactions to.
    #[arg(long, env = "DDISCORD_SIM_INTERACTIONS_URL")]
    pub interactions_url: Option<String>,
}

impl SimArgs {
    /// The [`SimConfig`] these flags describe.
    pub fn to_config(&self) -> SimConfig {
        let privileged = self
            .privileged_intents
            .iter()
            .map(|p| match p {
                PrivilegedIntent::Members => INTENT_GUILD_MEMBERS,
                PrivilegedIntent::Presences => INTENT_GUILD_PRESENCES,
                PrivilegedIntent::MessageContent => INTENT_MESSAGE_CONTENT,
            })
            .fold(0, |a, b| a | b);
        SimConfig {
            bind: self.bind,
            token: self.token.clone(),
            shards: self.shards,
            guilds: self.guilds,
            large_guild: self.large_guild,
            fixtures: self.fixtures.clone(),
            seed: self.seed,
            events_per_sec: self.events_per_sec,
            duration_ms: self.duration_secs.map(|s| s.saturating_mul(1000)),
            pregenerated: self.pregenerate,
            shed_when_behind: self.shed_when_behind,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
            max_concurrency: self.max_concurrency,
            session_start_total: self.session_start_total,
            privileged_intents: privileged,
            resume_buffer: self.resume_buffer,
            resume_window_ms: self.resume_window_secs.saturating_mul(1000),
            record_limit: self.record_limit,
            record_frames: self.record_frames,
            clock: self.clock,
            replay: self.replay.clone().map(|path| ReplaySpec {
                path,
                shard: self.replay_shard,
            }),
            interactions_url: self.interactions_url.clone(),
            rest_limits: crate::RestLimitConfig {
                enabled: self.rest_limits == Switch::On,
                route_limit: self.rest_route_limit,
                route_window_ms: self.rest_route_window_ms,
                global_per_sec: self.rest_global_limit,
            },
            ..SimConfig::default()
        }
    }
}

/// Resolves on Ctrl-C, or on SIGTERM on Unix.
async fn stop_signal() -> Result<(), SimError> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| SimError::with_source(SimErrorKind::Signal, e))?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(|e| SimError::with_source(SimErrorKind::Signal, e)),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| SimError::with_source(SimErrorKind::Signal, e))
    }
}

/// Runs `ddiscord sim`: starts the simulator, prints its URLs, then prints a one-line summary
/// of what it has sent every second until Ctrl-C (or SIGTERM).
///
/// # Errors
/// [`SimError`] if the simulator cannot start or Ctrl-C cannot be listened for.
pub async fn run(args: SimArgs) -> Result<(), SimError> {
    let handle = Simulator::start(args.to_config()).await?;
    println!(
        "ddiscord sim: gateway {} (point twilight's proxy_url here), http {} (GET /api/v10/gateway/bot, /control/...)",
        handle.ws_url(),
        handle.http_url()
    );
    println!(
        "ddiscord sim: interactions are signed with public key {} (DISCORD_PUBLIC_KEY of `ddiscord interactions`)",
        crate::interactions::public_key_hex(args.seed)
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = handle.record();
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            r = &mut stop => {
                r?;
                break;
            }
            _ = tick.tick() => {
                let now = handle.record();
                let identifies: u64 = now.shards.iter().map(|s| s.identifies).sum();
                let resumes: u64 = now.shards.iter().map(|s| s.resumes).sum();
                #[allow(clippy::cast_precision_loss)]
                let mb = (now.bytes_sent - last.bytes_sent) as f64 / 1e6;
                println!(
                    "sent {} dispatches ({}/s, {mb:.2} MB/s), generated {}, shed {}, IDENTIFY {identifies}, RESUME {resumes}, sim clock {} ms",
                    now.events_sent,
                    now.events_sent - last.events_sent,
                    handle.generated(),
                    handle.shed(),
                    handle.clock().now_ms(),
                );
                last = now;
            }
        }
    }
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimArgs,
    }

    #[test]
    fn flags_parse_and_every_option_has_help_and_env() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "sim",
            "--shards",
            "4",
            "--privileged-intents",
            "members,presences",
            "--clock",
            "manual",
            "--duration-secs",
            "3",
        ])
        .unwrap();
        let cfg = cli.args.to_config();
        assert_eq!(cfg.shards, 4);
        assert_eq!(
            cfg.privileged_intents,
            INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES
        );
        assert_eq!(cfg.clock, ClockMode::Manual);
        assert_eq!(cfg.duration_ms, Some(3000));
        for arg in Cli::command().get_arguments() {
            if arg.get_id() == "help" {
                continue;
            }
            assert!(arg.get_help().is_some(), "{} has no help", arg.get_id());
            assert!(arg.get_env().is_some(), "{} has no env var", arg.get_id());
        }
    }
}
