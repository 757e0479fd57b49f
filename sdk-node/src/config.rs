//! `connect(options)`: the core client's configuration from the environment, overridden by the
//! options given.

use std::time::Duration;

use ddiscord::client::ClientConfig;
use napi_derive::napi;

use crate::error::{ErrorKind, NodeError, Result};

/// Options for `connect()`. Every field is optional; an absent one comes from its environment
/// variable, then from the default (`ddiscord::client::ClientConfig`).
#[napi(object)]
#[derive(Debug, Default, Clone)]
pub struct ConnectOptions {
    /// Event mesh URL (`DDISCORD_MESH_URL`): `mqtt://host:port` (MQTT 3.1.1),
    /// `mqtt5://host:port` or `solace://host:port`; a running broker (the package carries no
    /// embedded one).
    pub mesh_url: Option<String>,
    /// Redis URL of the cache (`DDISCORD_REDIS_URL`); connected on the first cache read. May
    /// carry a password, which is never logged or shown in errors.
    pub redis_url: Option<String>,
    /// Prefix of every cache key (`DDISCORD_KEY_PREFIX`, default `dd:`).
    pub key_prefix: Option<String>,
    /// Root of the topic trees (`DDISCORD_TOPIC_ROOT`, default `discord`).
    pub topic_root: Option<String>,
    /// Number of shards the bot runs, to route gateway commands to the shard that owns a guild
    /// (`DDISCORD_SHARDS`, default 1).
    pub shards: Option<u32>,
    /// How long `connect()` waits for the broker, in ms (`DDISCORD_CONNECT_TIMEOUT_MS`,
    /// default 10 000); then it fails with `DDISCORD_TIMEOUT`.
    pub connect_timeout_ms: Option<u32>,
    /// How long `requestGuildMembers` waits for each GUILD_MEMBERS_CHUNK, in ms (default
    /// 10 000); then it fails with `DDISCORD_TIMEOUT`.
    pub chunk_timeout_ms: Option<u32>,
    /// Events buffered per subscription before the subscriber counts as slow and the mesh
    /// drops (and counts) events for it (default 65 536).
    pub subscription_capacity: Option<u32>,
}

impl ConnectOptions {
    /// The configuration: environment first, then these options on top.
    ///
    /// # Errors
    /// `DDISCORD_CONFIG` for a bad `DDISCORD_*` variable or a capacity of 0.
    pub fn resolve(self) -> Result<ClientConfig> {
        let mut config = ClientConfig::from_env()?;
        if let Some(v) = self.mesh_url {
            config.mesh_url = v;
        }
        if let Some(v) = self.redis_url {
            config.redis_url = v;
        }
        if let Some(v) = self.key_prefix {
            config.key_prefix = v;
        }
        if let Some(v) = self.topic_root {
            config.topic_root = v;
        }
        if let Some(v) = self.shards {
            config.shards = Some(v);
        }
        if let Some(ms) = self.connect_timeout_ms {
            config.connect_timeout = Duration::from_millis(u64::from(ms));
        }
        if let Some(ms) = self.chunk_timeout_ms {
            config.chunk_timeout = Duration::from_millis(u64::from(ms));
        }
        if let Some(n) = self.subscription_capacity {
            if n == 0 {
                return Err(NodeError::new(
                    ErrorKind::Config,
                    "subscriptionCapacity must be at least 1 (events buffered per subscription)",
                ));
            }
            config.subscription_capacity = n as usize;
        }
        Ok(config)
    }
}
