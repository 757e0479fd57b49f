//! `connect(options)`: what to connect to, from the options or the environment.

use napi_derive::napi;

use crate::error::{ErrorCode, NodeError, Result};

/// Options for `connect()`. Every field is optional and defaults to its environment variable,
/// then to the documented default.
#[napi(object)]
#[derive(Debug, Default, Clone)]
pub struct ConnectOptions {
    /// Event mesh URL (`DDISCORD_MESH_URL`, default `mqtt://127.0.0.1:1883`):
    /// `mqtt://host:port` (MQTT 3.1.1), `mqtt5://host:port`, `embedded://host:port`.
    pub mesh_url: Option<String>,
    /// Redis URL of the cache (`DDISCORD_REDIS_URL`, default `redis://127.0.0.1:6379`).
    pub redis_url: Option<String>,
    /// Prefix of every cache key (`DDISCORD_KEY_PREFIX`, default `dd:`).
    pub key_prefix: Option<String>,
    /// Root of the topic trees (`DDISCORD_TOPIC_ROOT`, default `discord`).
    pub topic_root: Option<String>,
    /// Number of shards the bot runs, for routing gateway commands to the shard that owns a
    /// guild (`DDISCORD_SHARDS`, default 1).
    pub shards: Option<u32>,
    /// MQTT client id (generated when absent).
    pub client_id: Option<String>,
    /// How long `connect()` waits for the broker before it fails with
    /// `DDISCORD_CONNECTION`, in ms (default 10 000).
    pub connect_timeout_ms: Option<u32>,
}

/// [`ConnectOptions`] with every default applied.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Mesh URL.
    pub mesh_url: String,
    /// Redis URL.
    pub redis_url: String,
    /// Cache key prefix.
    pub key_prefix: String,
    /// Topic root.
    pub topic_root: String,
    /// Shard count (>= 1).
    pub shards: u32,
    /// MQTT client id, if given.
    pub client_id: Option<String>,
    /// `connect()` timeout in ms.
    pub connect_timeout_ms: u32,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ConnectOptions {
    /// Applies the environment and the defaults.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidConfig`] for a shard count of 0 or a `DDISCORD_SHARDS` that is not
    /// a number.
    pub fn resolve(self) -> Result<Resolved> {
        let shards = match (self.shards, env("DDISCORD_SHARDS")) {
            (Some(n), _) => n,
            (None, Some(v)) => v.trim().parse().map_err(|_| {
                NodeError::new(
                    ErrorCode::InvalidConfig,
                    format!("DDISCORD_SHARDS={v:?} is not a shard count; set a positive integer"),
                )
            })?,
            (None, None) => 1,
        };
        if shards == 0 {
            return Err(NodeError::new(
                ErrorCode::InvalidConfig,
                "the shard count is 0; give the number of shards the bot runs (at least 1)",
            ));
        }
        Ok(Resolved {
            mesh_url: self
                .mesh_url
                .or_else(|| env("DDISCORD_MESH_URL"))
                .unwrap_or_else(|| "mqtt://127.0.0.1:1883".into()),
            redis_url: self
                .redis_url
                .or_else(|| env("DDISCORD_REDIS_URL"))
                .unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            key_prefix: self
                .key_prefix
                .or_else(|| env("DDISCORD_KEY_PREFIX"))
                .unwrap_or_else(|| "dd:".into()),
            topic_root: self
                .topic_root
                .or_else(|| env("DDISCORD_TOPIC_ROOT"))
                .unwrap_or_else(|| "discord".into()),
            shards,
            client_id: self.client_id,
            connect_timeout_ms: self.connect_timeout_ms.unwrap_or(10_000),
        })
    }
}
