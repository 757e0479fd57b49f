//! Cache reads (`client.cache.*` in JavaScript): typed reads of the Redis cache the state worker
//! writes (`ddiscord::cache::CacheReader`, key layout in `docs/cache.md`).
//!
//! Each read decodes the stored JSON into its twilight-model type (so a value that is not the
//! documented shape is a `DDISCORD_CORRUPT_CACHE` error, never a half-read object) and returns
//! it re-encoded as JSON text, which the JS entry turns into a plain object with `JSON.parse`:
//! faster than building the object through N-API field by field. Missing entities are `null`.

use ddiscord::cache::{CacheReader, GuildState};
use napi_derive::napi;
use redis::aio::ConnectionManager;
use serde::Serialize;

use crate::client::Client;
use crate::error::{ErrorKind, NodeError, Result, Settled};
use crate::ids::{snowflake, snowflakes};

/// A guild's cache marker and counters (`guild:<g>:state`).
#[napi(object)]
pub struct CachedGuildState {
    /// Shard the guild was last received on.
    pub shard: Option<u32>,
    /// IDENTIFY generation of the shard in which the guild was last sent.
    pub generation: i64,
    /// The GUILD_CREATE of the shard's current session is applied.
    pub complete: bool,
    /// Every member is cached.
    pub members_chunked: bool,
    /// Member count, maintained by GUILD_MEMBER_ADD/REMOVE.
    pub member_count: Option<i64>,
    /// Discord reports the guild unavailable (outage); the data is the last known.
    pub unavailable: bool,
}

impl From<GuildState> for CachedGuildState {
    fn from(s: GuildState) -> Self {
        Self {
            shard: s.shard,
            generation: i64::try_from(s.generation).unwrap_or(i64::MAX),
            complete: s.complete,
            members_chunked: s.members_chunked,
            member_count: s.member_count.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            unavailable: s.unavailable,
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| {
        NodeError::with_source(
            ErrorKind::Internal,
            "encoding a cached value for JavaScript",
            e,
        )
    })
}

fn opt_json<T: Serialize>(value: Option<T>) -> Result<Option<String>> {
    value.as_ref().map(to_json).transpose()
}

impl Client {
    /// The core client's cache reader (its Redis connection is made once and shared).
    async fn reader(&self) -> Result<CacheReader<ConnectionManager>> {
        self.check_open()?;
        Ok(self.core().cache().await?)
    }
}

#[napi]
impl Client {
    /// A guild without its collections (read those with the other methods), as JSON text;
    /// `null` when not cached.
    ///
    /// Errors (every cache read): `DDISCORD_INVALID_ID`, `DDISCORD_CACHE` (Redis unreachable or
    /// failing), `DDISCORD_CORRUPT_CACHE`, `DDISCORD_CLOSED`.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn cache_guild(&self, guild_id: String) -> Settled<Option<String>> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let v = self
                    .reader()
                    .await?
                    .guild(g)
                    .await
                    .map_err(NodeError::from)?;
                opt_json(v)
            }
            .await,
        )
    }

    /// A guild's cache marker and counters; `null` when not cached.
    #[napi(ts_return_type = "Promise<CachedGuildState | null>")]
    pub async fn cache_guild_state(&self, guild_id: String) -> Settled<Option<CachedGuildState>> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let v = self
                    .reader()
                    .await?
                    .guild_state(g)
                    .await
                    .map_err(NodeError::from)?;
                Ok(v.map(CachedGuildState::from))
            }
            .await,
        )
    }

    /// A channel or thread by id, as JSON text; `null` when not cached.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn cache_channel(&self, channel_id: String) -> Settled<Option<String>> {
        Settled(
            async {
                let c = snowflake("channel_id", &channel_id)?;
                let v = self
                    .reader()
                    .await?
                    .channel(c)
                    .await
                    .map_err(NodeError::from)?;
                opt_json(v)
            }
            .await,
        )
    }

    /// Every channel of a guild, as a JSON array.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn cache_channels(&self, guild_id: String) -> Settled<String> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let v = self
                    .reader()
                    .await?
                    .channels(g)
                    .await
                    .map_err(NodeError::from)?;
                to_json(&v)
            }
            .await,
        )
    }

    /// A role of a guild, as JSON text; `null` when not cached.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn cache_role(&self, guild_id: String, role_id: String) -> Settled<Option<String>> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let r = snowflake("role_id", &role_id)?;
                let v = self
                    .reader()
                    .await?
                    .role(g, r)
                    .await
                    .map_err(NodeError::from)?;
                opt_json(v)
            }
            .await,
        )
    }

    /// Every role of a guild, as a JSON array.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn cache_roles(&self, guild_id: String) -> Settled<String> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let v = self
                    .reader()
                    .await?
                    .roles(g)
                    .await
                    .map_err(NodeError::from)?;
                to_json(&v)
            }
            .await,
        )
    }

    /// A member of a guild with its user, as JSON text; `null` when not cached.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn cache_member(&self, guild_id: String, user_id: String) -> Settled<Option<String>> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let u = snowflake("user_id", &user_id)?;
                let v = self
                    .reader()
                    .await?
                    .member(g, u)
                    .await
                    .map_err(NodeError::from)?;
                opt_json(v)
            }
            .await,
        )
    }

    /// Members of a guild by user id in one round trip, as a JSON array in the order asked
    /// (`null` where not cached).
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn cache_members(&self, guild_id: String, user_ids: Vec<String>) -> Settled<String> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let users = snowflakes("user_id", &user_ids)?;
                let v = self
                    .reader()
                    .await?
                    .members(g, &users)
                    .await
                    .map_err(NodeError::from)?;
                to_json(&v)
            }
            .await,
        )
    }

    /// The user ids of every cached member of a guild.
    #[napi(ts_return_type = "Promise<Array<string>>")]
    pub async fn cache_member_ids(&self, guild_id: String) -> Settled<Vec<String>> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let v = self
                    .reader()
                    .await?
                    .member_ids(g)
                    .await
                    .map_err(NodeError::from)?;
                Ok(v.iter().map(u64::to_string).collect())
            }
            .await,
        )
    }

    /// A user, as JSON text; `null` when not cached.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn cache_user(&self, user_id: String) -> Settled<Option<String>> {
        Settled(
            async {
                let u = snowflake("user_id", &user_id)?;
                let v = self
                    .reader()
                    .await?
                    .user(u)
                    .await
                    .map_err(NodeError::from)?;
                opt_json(v)
            }
            .await,
        )
    }

    /// The bot's own user (from READY), as JSON text; `null` when not cached.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn cache_current_user(&self) -> Settled<Option<String>> {
        Settled(
            async {
                let v = self
                    .reader()
                    .await?
                    .current_user()
                    .await
                    .map_err(NodeError::from)?;
                opt_json(v)
            }
            .await,
        )
    }

    /// A member's presence, as JSON text; `null` when not cached.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn cache_presence(
        &self,
        guild_id: String,
        user_id: String,
    ) -> Settled<Option<String>> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let u = snowflake("user_id", &user_id)?;
                let v = self
                    .reader()
                    .await?
                    .presence(g, u)
                    .await
                    .map_err(NodeError::from)?;
                opt_json(v)
            }
            .await,
        )
    }

    /// A member's voice state, as JSON text; `null` when not cached.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn cache_voice_state(
        &self,
        guild_id: String,
        user_id: String,
    ) -> Settled<Option<String>> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let u = snowflake("user_id", &user_id)?;
                let v = self
                    .reader()
                    .await?
                    .voice_state(g, u)
                    .await
                    .map_err(NodeError::from)?;
                opt_json(v)
            }
            .await,
        )
    }

    /// Every voice state of a guild, as a JSON array.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn cache_voice_states(&self, guild_id: String) -> Settled<String> {
        Settled(
            async {
                let g = snowflake("guild_id", &guild_id)?;
                let v = self
                    .reader()
                    .await?
                    .voice_states(g)
                    .await
                    .map_err(NodeError::from)?;
                to_json(&v)
            }
            .await,
        )
    }

    /// Up to `limit` cached messages of a channel, newest first, as a JSON array.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn cache_recent_messages(&self, channel_id: String, limit: u32) -> Settled<String> {
        Settled(
            async {
                let c = snowflake("channel_id", &channel_id)?;
                let v = self
                    .reader()
                    .await?
                    .recent_messages(c, limit as usize)
                    .await
                    .map_err(NodeError::from)?;
                to_json(&v)
            }
            .await,
        )
    }
}
