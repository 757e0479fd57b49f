//! Where a [`Client`](super::Client) connects, read from the environment by default.

use std::time::Duration;

use super::error::{ClientError, ClientErrorKind};

/// Default mesh URL when `DDISCORD_MESH_URL` is not set: a broker on this machine's standard
/// MQTT port (where `ddiscord up` listens when that port is free).
pub const DEFAULT_MESH_URL: &str = ddiscord_model::defaults::MESH_URL;
/// Default Redis URL when `DDISCORD_REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = ddiscord_model::defaults::REDIS_URL;
/// Default Redis key prefix (`DDISCORD_KEY_PREFIX`).
pub const DEFAULT_KEY_PREFIX: &str = ddiscord_model::defaults::KEY_PREFIX;

/// Configuration of a [`Client`](super::Client).
///
/// | field | environment variable | default |
/// |---|---|---|
/// | `mesh_url` | `DDISCORD_MESH_URL` | `mqtt://127.0.0.1:1883` (a broker on this machine; scripts never start one) |
/// | `redis_url` | `DDISCORD_REDIS_URL` | `redis://127.0.0.1:6379` |
/// | `key_prefix` | `DDISCORD_KEY_PREFIX` | `dd:` |
/// | `topic_root` | `DDISCORD_TOPIC_ROOT` | `discord` (from `topics.yaml`) |
/// | `shards` | `DDISCORD_SHARDS` | unset: the count ingest recorded in Redis, else 1 |
/// | `connect_timeout` | `DDISCORD_CONNECT_TIMEOUT_MS` | `10000` |
/// | `rest` | `DISCORD_TOKEN`, `DDISCORD_REST_URL`, ... ([`RestConfig`](crate::rest::RestConfig)) | unset: no REST |
///
/// The Redis URL may carry a password; it is never logged (see [`ClientConfig::redacted_redis_url`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Event mesh URL: `mqtt://host:port`, `mqtt5://host:port` or `solace://host:port` (see
    /// `ddiscord::mesh::MeshConfig`). The SDK connects to a running broker: `embedded://` is
    /// refused, since only the `ddiscord` binary carries the embedded broker.
    pub mesh_url: String,
    /// Redis URL of the cache the state worker writes.
    pub redis_url: String,
    /// Prefix of every Redis key DDiscord writes (default `dd:`).
    pub key_prefix: String,
    /// First level of the topic trees (`discord` gives `discord/…`, `discord-state/…`,
    /// `discord-cmd/…`).
    pub topic_root: String,
    /// Number of shards the bot runs, used to route gateway commands to the shard that owns a
    /// guild: `(guild_id >> 22) % shards`, and as the partitions of work queues. `None` (the
    /// default) takes the count ingest recorded in Redis (`{prefix}topology`, from Discord's
    /// `GET /gateway/bot`) and follows it when it changes; 1 while none is recorded. A value
    /// that contradicts the recorded count is an error at connect.
    pub shards: Option<u32>,
    /// Events buffered per subscription before the subscriber counts as slow and the mesh drops
    /// (and counts) events for it.
    pub subscription_capacity: usize,
    /// How long [`Client::request_guild_members`](super::Client::request_guild_members) waits
    /// for the next GUILD_MEMBERS_CHUNK before it ends the stream with a timeout error.
    pub chunk_timeout: Duration,
    /// How long [`Client::connect`](super::Client::connect) waits for the broker to accept the
    /// connection (`DDISCORD_CONNECT_TIMEOUT_MS`, default 10 000 ms).
    pub connect_timeout: Duration,
    /// Discord's HTTP API ([`Client::rest`](super::Client::rest)): the bot token, base URL
    /// and shared limits; `None` (no `DISCORD_TOKEN`) leaves REST unavailable.
    pub rest: Option<crate::rest::RestConfig>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("mesh_url", &redact_url(&self.mesh_url))
            .field("redis_url", &self.redacted_redis_url())
            .field("key_prefix", &self.key_prefix)
            .field("topic_root", &self.topic_root)
            .field("shards", &self.shards)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("chunk_timeout", &self.chunk_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("rest", &self.rest)
            .finish()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            mesh_url: DEFAULT_MESH_URL.to_owned(),
            redis_url: DEFAULT_REDIS_URL.to_owned(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            topic_root: crate::contract::DEFAULT_ROOT.to_owned(),
            shards: None,
            subscription_capacity: 65_536,
            chunk_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            rest: None,
        }
    }
}

impl ClientConfig {
    /// A configuration with the given mesh and Redis URLs and every other field at its default.
    pub fn new(mesh_url: impl Into<String>, redis_url: impl Into<String>) -> Self {
        Self {
            mesh_url: mesh_url.into(),
            redis_url: redis_url.into(),
            ..Self::default()
        }
    }

    /// Reads the configuration from the environment variables in the table above; unset
    /// variables keep their defaults.
    ///
    /// # Errors
    /// [`ClientErrorKind::Config`] when `DDISCORD_SHARDS` is not a positive integer.
    pub fn from_env() -> Result<Self, ClientError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Self::from_env`], reading variables through `lookup` (for tests and bindings).
    ///
    /// # Errors
    /// As [`Self::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        let mut config = Self::default();
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = non_empty("DDISCORD_MESH_URL") {
            config.mesh_url = v;
        }
        if let Some(v) = non_empty("DDISCORD_REDIS_URL") {
            config.redis_url = v;
        }
        if let Some(v) = lookup("DDISCORD_KEY_PREFIX") {
            config.key_prefix = v;
        }
        if let Some(v) = non_empty("DDISCORD_TOPIC_ROOT") {
            config.topic_root = v;
        }
        if let Some(v) = non_empty("DDISCORD_SHARDS") {
            config.shards = Some(parse_shards(&v)?);
        }
        if let Some(v) = non_empty("DDISCORD_CONNECT_TIMEOUT_MS") {
            let ms = v.trim().parse::<u64>().map_err(|_| {
                ClientError::new(ClientErrorKind::Config {
                    message: format!(
                        "DDISCORD_CONNECT_TIMEOUT_MS must be milliseconds as an integer; got {v:?}"
                    ),
                })
            })?;
            config.connect_timeout = Duration::from_millis(ms);
        }
        config.rest = crate::rest::RestConfig::from_lookup(&lookup).map_err(|e| {
            ClientError::new(ClientErrorKind::Config {
                message: e.to_string(),
            })
        })?;
        Ok(config)
    }

    /// The Redis URL with any password replaced by `***`, for logs and errors.
    pub fn redacted_redis_url(&self) -> String {
        redact_url(&self.redis_url)
    }
}

fn parse_shards(v: &str) -> Result<u32, ClientError> {
    match v.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ClientError::new(ClientErrorKind::Config {
            message: format!(
                "DDISCORD_SHARDS must be the bot's shard count, a positive integer; got {v:?}"
            ),
        })),
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://***@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults() {
        let c = ClientConfig::from_lookup(|k| match k {
            "DDISCORD_MESH_URL" => Some("mqtt://127.0.0.1:1".into()),
            "DDISCORD_SHARDS" => Some("16".into()),
            "DDISCORD_KEY_PREFIX" => Some("x:".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.mesh_url, "mqtt://127.0.0.1:1");
        assert_eq!(c.redis_url, DEFAULT_REDIS_URL);
        assert_eq!(c.key_prefix, "x:");
        assert_eq!(c.topic_root, "discord");
        assert_eq!(c.shards, Some(16));
        let e = ClientConfig::from_lookup(|k| (k == "DDISCORD_SHARDS").then(|| "0".into()))
            .unwrap_err();
        assert!(e.to_string().contains("DDISCORD_SHARDS"), "{e}");
    }

    #[test]
    fn passwords_are_redacted() {
        let c = ClientConfig::new("mqtt://h:1", "redis://:s3cret@h:6379/0");
        assert_eq!(c.redacted_redis_url(), "redis://:***@h:6379/0");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
    }
}
