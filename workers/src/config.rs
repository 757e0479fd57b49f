//! Configuration: the `ddiscord state-worker` flags (each also an environment variable) and
//! the programmatic [`StateWorkerConfig`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::WorkerError;
use crate::projection::ProjectionConfig;

/// `ddiscord state-worker`: project every dispatch into the Redis cache.
#[derive(Debug, Clone, clap::Args)]
pub struct StateWorkerArgs {
    /// Redis holding the cache and the leases (may contain a password; never logged).
    #[arg(
        long,
        env = "DDISCORD_REDIS_URL",
        hide_env_values = true,
        default_value = ddiscord::model_defaults::REDIS_URL
    )]
    pub redis_url: String,
    /// The event mesh: mqtt://host:1883, mqtt5://host:1883, embedded://127.0.0.1:1883 or
    /// solace://host:55555.
    #[arg(
        long,
        env = "DDISCORD_MESH_URL",
        hide_env_values = true,
        default_value = ddiscord::model_defaults::EMBEDDED_MESH_URL
    )]
    pub mesh_url: String,
    /// Prefix of every Redis key of the cache and the leases.
    #[arg(long, env = "DDISCORD_KEY_PREFIX", default_value = ddiscord::coord::DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,
    /// Root of the topic trees (`<root>/…` consumed, `<root>-state/…` published).
    #[arg(long, env = "DDISCORD_TOPIC_ROOT", default_value = "discord")]
    pub topic_root: String,
    /// Shard count of the bot: the consumer group's partitions. Unset (the default), the
    /// worker takes the count ingest recorded in Redis (`{prefix}topology`, from Discord's
    /// `GET /gateway/bot`), waits for it if none is recorded yet, and follows a change; set,
    /// it must equal the recorded count (a startup error otherwise).
    #[arg(long, env = "DDISCORD_SHARDS")]
    pub shards: Option<u32>,
    /// Cache presences (the bulk of a large bot's traffic).
    #[arg(long, env = "DDISCORD_CACHE_PRESENCES", default_value_t = false)]
    pub cache_presences: bool,
    /// Messages cached per channel; 0 turns the message cache off.
    #[arg(long, env = "DDISCORD_MESSAGE_CACHE", default_value_t = 0)]
    pub message_cache: usize,
    /// Listen address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, env = "DDISCORD_HTTP_ADDR", default_value = "0.0.0.0:9102")]
    pub http_addr: SocketAddr,
    /// Largest envelope in bytes the worker receives and republishes (a large guild's
    /// GUILD_CREATE is several MiB; the broker's own limit must allow it too).
    #[arg(long, env = "DDISCORD_MESH_MAX_PAYLOAD", default_value_t = 32 << 20)]
    pub max_payload_bytes: usize,
    /// Consumer group name: replicas with the same name share the shards.
    #[arg(long, env = "DDISCORD_STATE_GROUP", default_value = "state")]
    pub group: String,
    /// Lease time to live in ms: how soon another replica takes over a crashed one's shards.
    #[arg(long, env = "DDISCORD_LEASE_TTL_MS", default_value_t = 10_000)]
    pub lease_ttl_ms: u64,
    /// Most dispatches applied in one Redis pipeline.
    #[arg(long, env = "DDISCORD_STATE_BATCH", default_value_t = 256)]
    pub batch: usize,
    /// This replica's id in the leases (default: hostname-pid-random).
    #[arg(long, env = "DDISCORD_NODE_ID")]
    pub node_id: Option<String>,
    /// How long (ms) events are held behind a gap in their session's sequence (a missing or
    /// late dispatch) before the gap is given up on and the rest applied.
    #[arg(long, env = "DDISCORD_STATE_GAP_TIMEOUT_MS", default_value_t = DEFAULT_GAP_TIMEOUT_MS)]
    pub gap_timeout_ms: u64,
}

/// Default of [`StateWorkerConfig::gap_timeout`]: 10 s.
pub const DEFAULT_GAP_TIMEOUT_MS: u64 = 10_000;

/// The state worker's settings.
#[derive(Debug, Clone)]
pub struct StateWorkerConfig {
    /// Redis URL (never logged).
    pub redis_url: String,
    /// Mesh URL.
    pub mesh_url: String,
    /// Key prefix.
    pub key_prefix: String,
    /// Topic root.
    pub topic_root: String,
    /// Shard count; `None` follows the topology ingest records in Redis
    /// ([`ddiscord::coord::Topology`]).
    pub shards: Option<u32>,
    /// What is cached.
    pub projection: ProjectionConfig,
    /// Health and metrics address; `None` serves nothing (tests).
    pub http_addr: Option<SocketAddr>,
    /// Largest envelope in bytes received and republished.
    pub max_payload_bytes: usize,
    /// Consumer group name.
    pub group: String,
    /// Lease TTL.
    pub lease_ttl: Duration,
    /// Most dispatches per pipeline.
    pub batch: usize,
    /// Node id.
    pub node_id: String,
    /// How long events are held behind a gap in their session's sequence before the gap is
    /// given up on (`ddiscord_state_sequence_gaps_total`, lifecycle event `SEQUENCE_GAP`).
    pub gap_timeout: Duration,
}

impl StateWorkerConfig {
    /// Defaults for `redis_url` and `mesh_url`; the shard count follows the recorded topology.
    pub fn new(redis_url: impl Into<String>, mesh_url: impl Into<String>) -> Self {
        Self {
            redis_url: redis_url.into(),
            mesh_url: mesh_url.into(),
            key_prefix: ddiscord::cache::keys::DEFAULT_PREFIX.to_owned(),
            topic_root: "discord".to_owned(),
            shards: None,
            projection: ProjectionConfig::default(),
            http_addr: None,
            max_payload_bytes: 32 << 20,
            group: "state".to_owned(),
            lease_ttl: Duration::from_secs(10),
            batch: 256,
            node_id: ddiscord::coord::default_node_id(),
            gap_timeout: Duration::from_millis(DEFAULT_GAP_TIMEOUT_MS),
        }
    }
}

impl TryFrom<StateWorkerArgs> for StateWorkerConfig {
    type Error = WorkerError;

    fn try_from(a: StateWorkerArgs) -> Result<Self, WorkerError> {
        if a.shards == Some(0) {
            return Err(WorkerError::config("DDISCORD_SHARDS must be at least 1"));
        }
        if a.batch == 0 {
            return Err(WorkerError::config(
                "DDISCORD_STATE_BATCH must be at least 1",
            ));
        }
        if a.lease_ttl_ms < 100 {
            return Err(WorkerError::config(
                "DDISCORD_LEASE_TTL_MS must be at least 100",
            ));
        }
        Ok(Self {
            redis_url: a.redis_url,
            mesh_url: a.mesh_url,
            key_prefix: a.key_prefix,
            topic_root: a.topic_root,
            shards: a.shards,
            projection: ProjectionConfig {
                cache_presences: a.cache_presences,
                message_cache: a.message_cache,
            },
            http_addr: Some(a.http_addr),
            max_payload_bytes: a.max_payload_bytes,
            group: a.group,
            lease_ttl: Duration::from_millis(a.lease_ttl_ms),
            batch: a.batch,
            node_id: a.node_id.unwrap_or_else(ddiscord::coord::default_node_id),
            gap_timeout: Duration::from_millis(a.gap_timeout_ms),
        })
    }
}
