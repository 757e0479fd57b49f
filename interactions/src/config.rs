//! Configuration: the `ddiscord interactions` flags (each also an environment variable) and the
//! programmatic [`InteractionsConfig`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::InteractionsError;

/// Default of [`InteractionsConfig::deadline`]: 2.5 s, half a second inside the 3 s Discord
/// gives an endpoint to answer
/// (<https://discord.com/developers/docs/interactions/receiving-and-responding#responding-to-an-interaction>).
pub const DEFAULT_DEADLINE_MS: u64 = 2_500;

/// Discord's own bound: an interaction not answered within 3 s fails for the user.
pub const DISCORD_DEADLINE: Duration = Duration::from_secs(3);

/// Default of [`InteractionsConfig::max_age`]: 300 s between a request's signed timestamp and
/// this host's clock, either way.
pub const DEFAULT_MAX_AGE_SECS: u64 = 300;

/// `ddiscord interactions`: Discord's HTTP interactions endpoint.
#[derive(Debug, Clone, clap::Args)]
pub struct InteractionsArgs {
    /// The application's public key, 64 hexadecimal characters (Developer Portal, General
    /// Information, PUBLIC KEY): requests not signed with its private half are refused (401).
    #[arg(long, env = "DISCORD_PUBLIC_KEY", hide_env_values = true)]
    pub public_key: String,
    /// Address of `POST /interactions` (the Interactions Endpoint URL points here, through
    /// TLS in front of it).
    #[arg(
        long,
        env = "DDISCORD_INTERACTIONS_ADDR",
        default_value = "0.0.0.0:8081"
    )]
    pub listen: SocketAddr,
    /// The event mesh: mqtt://host:1883, mqtt5://host:1883, mqtts://host:8883 (TLS; with
    /// DDISCORD_MESH_USERNAME, DDISCORD_MESH_PASSWORD(_FILE) and DDISCORD_MESH_CA_FILE as every
    /// process reads them) or solace://host:55555. Every replica must share it with the scripts.
    #[arg(
        long,
        env = "DDISCORD_MESH_URL",
        hide_env_values = true,
        default_value = ddiscord_model::defaults::MESH_URL
    )]
    pub mesh_url: String,
    /// Root of the topic trees (`<root>/…` published, `<root>-interaction-reply/…` read).
    #[arg(long, env = "DDISCORD_TOPIC_ROOT", default_value = "discord")]
    pub topic_root: String,
    /// Shard count of the bot: an interaction is published on the shard level the gateway
    /// would have delivered it on, `(guild_id >> 22) % shards` (shard 0 without a guild).
    #[arg(long, env = "DDISCORD_SHARDS", default_value_t = 1)]
    pub shards: u32,
    /// How long (ms) a script has to reply before the endpoint answers Discord with a deferred
    /// response; below Discord's 3000 ms.
    #[arg(long, env = "DDISCORD_INTERACTIONS_DEADLINE_MS", default_value_t = DEFAULT_DEADLINE_MS)]
    pub deadline_ms: u64,
    /// Largest distance (s) between a request's X-Signature-Timestamp and this host's clock;
    /// further is refused (401) as a replay.
    #[arg(long, env = "DDISCORD_INTERACTIONS_MAX_AGE_S", default_value_t = DEFAULT_MAX_AGE_SECS)]
    pub max_age_secs: u64,
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, env = "DDISCORD_HTTP_ADDR", default_value = "0.0.0.0:9103")]
    pub http_addr: SocketAddr,
}

/// The endpoint's settings.
#[derive(Debug, Clone)]
pub struct InteractionsConfig {
    /// The application's public key, hexadecimal.
    pub public_key: String,
    /// Address of `POST /interactions` (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Mesh URL.
    pub mesh_url: String,
    /// Topic root.
    pub topic_root: String,
    /// Shard count used for the shard level of the published topic.
    pub shards: u32,
    /// How long a script has to reply before the endpoint defers.
    pub deadline: Duration,
    /// Largest distance between a request's timestamp and now.
    pub max_age: Duration,
    /// Health and metrics address; `None` serves nothing (tests).
    pub http_addr: Option<SocketAddr>,
}

impl InteractionsConfig {
    /// The defaults for `public_key` and `mesh_url`, listening on a free loopback port.
    pub fn new(public_key: impl Into<String>, mesh_url: impl Into<String>) -> Self {
        Self {
            public_key: public_key.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mesh_url: mesh_url.into(),
            topic_root: ddiscord_model::contract::DEFAULT_ROOT.to_owned(),
            shards: 1,
            deadline: Duration::from_millis(DEFAULT_DEADLINE_MS),
            max_age: Duration::from_secs(DEFAULT_MAX_AGE_SECS),
            http_addr: None,
        }
    }

    /// Checks the settings that cannot work.
    ///
    /// # Errors
    /// [`crate::InteractionsErrorKind::Config`] for no shards, a zero deadline or one not below
    /// Discord's 3 s, or a zero maximum age.
    pub fn validate(&self) -> Result<(), InteractionsError> {
        if self.shards == 0 {
            return Err(InteractionsError::config(
                "DDISCORD_SHARDS must be at least 1",
            ));
        }
        if self.deadline.is_zero() || self.deadline >= DISCORD_DEADLINE {
            return Err(InteractionsError::config(
                "DDISCORD_INTERACTIONS_DEADLINE_MS must be between 1 and 2999: Discord fails an interaction not answered within 3 s",
            ));
        }
        if self.max_age.is_zero() {
            return Err(InteractionsError::config(
                "DDISCORD_INTERACTIONS_MAX_AGE_S must be at least 1",
            ));
        }
        Ok(())
    }
}

impl TryFrom<InteractionsArgs> for InteractionsConfig {
    type Error = InteractionsError;

    fn try_from(a: InteractionsArgs) -> Result<Self, InteractionsError> {
        let config = Self {
            public_key: a.public_key,
            listen: a.listen,
            mesh_url: a.mesh_url,
            topic_root: a.topic_root,
            shards: a.shards,
            deadline: Duration::from_millis(a.deadline_ms),
            max_age: Duration::from_secs(a.max_age_secs),
            http_addr: Some(a.http_addr),
        };
        config.validate()?;
        Ok(config)
    }
}
