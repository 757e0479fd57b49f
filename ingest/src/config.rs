//! Configuration: [`IngestArgs`] (flags and environment variables) and [`IngestConfig`] (the
//! programmatic form used by [`crate::IngestNode::start`]).

use std::net::SocketAddr;
use std::time::Duration;

use ddiscord::coord::default_node_id;

use crate::error::{IngestError, IngestErrorKind};

/// Default intents: every non-privileged intent plus GUILD_MEMBERS (bit 1) and GUILD_PRESENCES
/// (bit 8) and MESSAGE_CONTENT (bit 15), i.e. what a cache-heavy bot asks for.
/// Source: <https://discord.com/developers/docs/events/gateway#gateway-intents>.
pub const DEFAULT_INTENTS: u64 = 53_608_447;

/// `ddiscord ingest`: run leased gateway shards that publish every dispatch to the mesh.
#[derive(Clone, clap::Args)]
pub struct IngestArgs {
    /// Bot token (never logged).
    #[arg(long, env = "DISCORD_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Redis URL for leases, IDENTIFY coordination and sessions.
    #[arg(
        long,
        env = "DDISCORD_REDIS_URL",
        hide_env_values = true,
        default_value = ddiscord::model_defaults::REDIS_URL
    )]
    pub redis_url: String,
    /// Event mesh URL: `mqtt://host:1883`, `mqtt5://host:1883`, `embedded://127.0.0.1:1883`.
    #[arg(
        long,
        env = "DDISCORD_MESH_URL",
        hide_env_values = true,
        default_value = ddiscord::model_defaults::EMBEDDED_MESH_URL
    )]
    pub mesh_url: String,
    /// Gateway URL to connect to instead of Discord's (the simulator, `ws://127.0.0.1:PORT`);
    /// `GET /api/v10/gateway/bot` is then asked of the same host.
    #[arg(long, env = "DDISCORD_GATEWAY_URL")]
    pub gateway_url: Option<String>,
    /// Shard count; unset asks `GET /gateway/bot` for Discord's recommendation.
    #[arg(long, env = "DDISCORD_SHARDS")]
    pub shards: Option<u32>,
    /// Gateway intents as a decimal bit set.
    #[arg(long, env = "DDISCORD_INTENTS", default_value_t = DEFAULT_INTENTS)]
    pub intents: u64,
    /// IDENTIFYs of the daily `session_start_limit` never spent: at or below this many left,
    /// shards refuse to identify (log line, metric, IDENTIFY_REFUSED lifecycle event).
    #[arg(long, env = "DDISCORD_IDENTIFY_RESERVE", default_value_t = 50)]
    pub identify_reserve: u64,
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, env = "DDISCORD_HTTP_ADDR", default_value = "0.0.0.0:9100")]
    pub http_addr: SocketAddr,
    /// Root of the topic trees (several bots can share a mesh).
    #[arg(long, env = "DDISCORD_TOPIC_ROOT", default_value = "discord")]
    pub topic_root: String,
    /// Prefix of every Redis key.
    #[arg(long, env = "DDISCORD_KEY_PREFIX", default_value = ddiscord::coord::DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,
    /// IDENTIFY `large_threshold`: members above which Discord leaves the offline members out
    /// of a guild's GUILD_CREATE, 50 to 250
    /// (<https://discord.com/developers/docs/events/gateway-events#identify>).
    #[arg(long, env = "DDISCORD_LARGE_THRESHOLD", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(50..=250))]
    pub large_threshold: u64,
    /// After the GUILD_CREATE of a large guild (`large: true`), request all its members
    /// (opcode 8, `query: ""`, `limit: 0`) so the cache holds every member and marks the
    /// guild `members_chunked`; only with the GUILD_MEMBERS intent.
    #[arg(long, env = "DDISCORD_REQUEST_MEMBERS", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub request_members: bool,
    /// This node's id in the lease group (default `hostname-pid-random`).
    #[arg(long, env = "DDISCORD_NODE_ID")]
    pub node_id: Option<String>,
    /// Shard lease TTL in ms: a node that stops renewing loses its shards after this long.
    #[arg(long, env = "DDISCORD_LEASE_TTL_MS", default_value_t = 10_000)]
    pub lease_ttl_ms: u64,
    /// Dispatches per shard read from the gateway but not yet acknowledged by the mesh; when
    /// full, the shard stops reading.
    #[arg(long, env = "DDISCORD_PUBLISH_WINDOW", default_value_t = 1024)]
    pub publish_window: usize,
    /// Dispatches a shard may read ahead of the cache (the state worker's applied sequence
    /// in Redis) before it stops reading until the cache catches up; 0 turns this off. Keeps
    /// the broker's queues bounded when the state worker is slower than the gateway; set it
    /// only where a state worker runs (`ddiscord up` does). A pause lasts at most 15 s.
    #[arg(long, env = "DDISCORD_MAX_CACHE_LAG", default_value_t = 0)]
    pub max_cache_lag: u64,
    /// How often each shard persists its session (ms).
    #[arg(long, env = "DDISCORD_SESSION_PERSIST_MS", default_value_t = 1000)]
    pub session_persist_ms: u64,
    /// Largest envelope published, in bytes. GUILD_CREATE of a large guild is several MB, so
    /// the broker's limit (Mosquitto `max_packet_size`, Solace max message size) must be at
    /// least this; larger dispatches go to the dead-letter stream `{prefix}dead:ingest`
    /// (`ddiscord_ingest_publish_refused_total{reason="payload_too_large"}`).
    #[arg(long, env = "DDISCORD_MAX_PAYLOAD_BYTES", default_value_t = DEFAULT_MAX_PAYLOAD_BYTES)]
    pub max_payload_bytes: usize,
    /// Consumer groups registered at startup (comma-separated names) with the pattern
    /// `<root>/>`, so that their durable sessions exist before the first dispatch is
    /// published. Groups registered by others (`{prefix}groups` in Redis) get their sessions
    /// too; an empty value registers none.
    #[arg(
        long,
        env = "DDISCORD_GROUPS",
        value_delimiter = ',',
        default_value = DEFAULT_GROUP
    )]
    pub groups: Vec<String>,
}

/// The consumer group ingest registers by default: the state worker's.
pub const DEFAULT_GROUP: &str = "state";

/// Default largest envelope: 16 MiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

impl std::fmt::Debug for IngestArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestArgs")
            .field("token", &"<redacted>")
            .field("redis_url", &self.redis_url)
            .field("mesh_url", &self.mesh_url)
            .field("gateway_url", &self.gateway_url)
            .field("shards", &self.shards)
            .field("intents", &self.intents)
            .field("identify_reserve", &self.identify_reserve)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

/// Everything an [`crate::IngestNode`] needs.
#[derive(Clone)]
pub struct IngestConfig {
    /// Bot token (never logged; `Debug` redacts it).
    pub token: String,
    /// Redis URL.
    pub redis_url: String,
    /// Event mesh configuration.
    pub mesh: ddiscord::mesh::MeshConfig,
    /// Gateway URL override (the simulator).
    pub gateway_url: Option<String>,
    /// Fixed shard count; `None` asks `GET /gateway/bot`.
    pub shards: Option<u32>,
    /// Gateway intents bit set.
    pub intents: u64,
    /// IDENTIFYs of the daily budget never spent.
    pub identify_reserve: u64,
    /// IDENTIFY `large_threshold` (50 to 250); see [`IngestArgs::large_threshold`].
    pub large_threshold: u64,
    /// Request every member of a large guild after its GUILD_CREATE; see
    /// [`IngestArgs::request_members`].
    pub request_members: bool,
    /// Topic root.
    pub topic_root: String,
    /// Redis key prefix.
    pub key_prefix: String,
    /// Node id in the lease group.
    pub node_id: String,
    /// Shard lease TTL.
    pub lease_ttl: Duration,
    /// Unacknowledged dispatches per shard before it stops reading.
    pub publish_window: usize,
    /// Session persistence interval.
    pub session_persist: Duration,
    /// Dispatches a shard may read ahead of the cache's applied sequence before it stops
    /// reading (`None`: no limit); see [`IngestArgs::max_cache_lag`].
    pub max_cache_lag: Option<u64>,
    /// Consumer groups registered at startup with the pattern `<root>/>` (default
    /// `["state"]`); see [`IngestArgs::groups`].
    pub groups: Vec<String>,
    /// How often each shard reads the group registry again to create the sessions of groups
    /// registered later (default 5 s).
    pub groups_refresh: Duration,
}

impl std::fmt::Debug for IngestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestConfig")
            .field("token", &"<redacted>")
            .field("redis_url", &self.redis_url)
            .field("mesh", &self.mesh.url)
            .field("gateway_url", &self.gateway_url)
            .field("shards", &self.shards)
            .field("node_id", &self.node_id)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl IngestConfig {
    /// A configuration with the defaults of [`IngestArgs`].
    pub fn new(
        token: impl Into<String>,
        redis_url: impl Into<String>,
        mesh_url: impl Into<String>,
    ) -> Self {
        Self {
            token: token.into(),
            redis_url: redis_url.into(),
            mesh: {
                let mut m = ddiscord::mesh::MeshConfig::new(mesh_url);
                m.max_payload_bytes = DEFAULT_MAX_PAYLOAD_BYTES;
                m
            },
            gateway_url: None,
            shards: None,
            intents: DEFAULT_INTENTS,
            identify_reserve: 50,
            large_threshold: 250,
            request_members: true,
            topic_root: "discord".to_owned(),
            key_prefix: ddiscord::coord::DEFAULT_KEY_PREFIX.to_owned(),
            node_id: default_node_id(),
            lease_ttl: Duration::from_secs(10),
            publish_window: 1024,
            session_persist: Duration::from_secs(1),
            max_cache_lag: None,
            groups: vec![DEFAULT_GROUP.to_owned()],
            groups_refresh: Duration::from_secs(5),
        }
    }

    /// Checks the values.
    ///
    /// # Errors
    /// [`IngestErrorKind::Config`] naming the setting.
    pub fn validate(&self) -> Result<(), IngestError> {
        let reason = if self.token.trim().is_empty() {
            "DISCORD_TOKEN is empty"
        } else if self.shards == Some(0) {
            "DDISCORD_SHARDS must be at least 1"
        } else if !(50..=250).contains(&self.large_threshold) {
            "DDISCORD_LARGE_THRESHOLD must be from 50 to 250"
        } else if self.publish_window == 0 {
            "DDISCORD_PUBLISH_WINDOW must be at least 1"
        } else if self.lease_ttl < Duration::from_millis(300) {
            "DDISCORD_LEASE_TTL_MS must be at least 300"
        } else if self.session_persist.is_zero() || self.groups_refresh.is_zero() {
            "DDISCORD_SESSION_PERSIST_MS must be above 0"
        } else if self.groups.iter().any(|g| {
            !g.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }) {
            "DDISCORD_GROUPS must be comma-separated names of letters, digits, '-' and '_'"
        } else {
            return Ok(());
        };
        Err(IngestError::new(IngestErrorKind::Config {
            reason: reason.to_owned(),
        }))
    }
}

impl From<IngestArgs> for IngestConfig {
    fn from(a: IngestArgs) -> Self {
        let mut c = IngestConfig::new(a.token, a.redis_url, a.mesh_url);
        c.gateway_url = a.gateway_url;
        c.shards = a.shards;
        c.intents = a.intents;
        c.identify_reserve = a.identify_reserve;
        c.large_threshold = a.large_threshold;
        c.request_members = a.request_members;
        c.topic_root = a.topic_root;
        c.key_prefix = a.key_prefix;
        if let Some(id) = a.node_id {
            c.node_id = id;
        }
        c.lease_ttl = Duration::from_millis(a.lease_ttl_ms);
        c.publish_window = a.publish_window;
        c.session_persist = Duration::from_millis(a.session_persist_ms);
        c.max_cache_lag = (a.max_cache_lag > 0).then_some(a.max_cache_lag);
        c.mesh.max_payload_bytes = a.max_payload_bytes;
        c.groups = a
            .groups
            .into_iter()
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        c
    }
}
