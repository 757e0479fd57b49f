//! Options shared by the subcommands that talk to Redis (`project`, `dead`).

use clap::Args;
use ddiscord::coord::RedisTarget;
use redis::aio::ConnectionManager;

use super::error::CliError;

/// Where the cache and the coordination keys are.
#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
    /// Redis URL (may contain a password; never printed).
    #[arg(
        long,
        env = "DDISCORD_REDIS_URL",
        default_value = ddiscord::model_defaults::REDIS_URL,
        hide_env_values = true
    )]
    pub redis_url: String,
    /// Prefix of every Redis key.
    #[arg(long, env = "DDISCORD_KEY_PREFIX", default_value = ddiscord::coord::DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,
}

impl RedisArgs {
    /// Connects (the error names the failure's kind only: the URL may hold a password).
    ///
    /// # Errors
    /// [`CliErrorKind::Redis`](crate::cmd::error::CliErrorKind::Redis) for an invalid URL or an unreachable Redis.
    pub async fn connect(&self) -> Result<ConnectionManager, CliError> {
        let target = RedisTarget::from_env_with_url(self.redis_url.as_str())?;
        Ok(target.connect().await?)
    }
}
