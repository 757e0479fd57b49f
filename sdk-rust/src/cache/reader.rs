//! Typed reads of the cache, returning twilight-model types.

use redis::aio::ConnectionLike;
use serde::de::DeserializeOwned;
use serde_json::Value;
use twilight_model::channel::{Channel, Message};
use twilight_model::gateway::presence::Presence;
use twilight_model::guild::{Guild, Member, Role};
use twilight_model::user::{CurrentUser, User};
use twilight_model::voice::VoiceState;

use super::error::CacheError;
#[cfg(doc)]
use super::error::CacheErrorKind;
use super::keys::{Keys, state_field};
use super::text::member_with_user;

/// The per-guild marker and counters (`guild:<g>:state`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GuildState {
    /// Shard the guild was last received on.
    pub shard: Option<u32>,
    /// IDENTIFY generation of the shard in which the guild was last sent.
    pub generation: u64,
    /// The GUILD_CREATE of the shard's current session is applied.
    pub complete: bool,
    /// Every member is cached.
    pub members_chunked: bool,
    /// Member count, maintained by GUILD_MEMBER_ADD/REMOVE.
    pub member_count: Option<u64>,
    /// Discord reports the guild unavailable (outage); the data is the last known.
    pub unavailable: bool,
}

/// Typed reads of the cache written by the state worker.
///
/// Works over any async Redis connection (`redis::aio::ConnectionManager` is the usual one;
/// it reconnects by itself). Every method is one round trip unless it says otherwise. A missing
/// entity is `Ok(None)` (or an empty `Vec`); a value that is not the documented JSON is
/// [`CacheErrorKind::Corrupt`].
#[derive(Clone)]
pub struct CacheReader<C> {
    conn: C,
    keys: Keys,
}

fn decode<T: DeserializeOwned>(key: &str, raw: &str) -> Result<T, CacheError> {
    serde_json::from_str(raw).map_err(|source| CacheError::corrupt(key, source))
}

fn decode_opt<T: DeserializeOwned>(
    key: &str,
    raw: Option<String>,
) -> Result<Option<T>, CacheError> {
    raw.map(|r| decode(key, &r)).transpose()
}

fn decode_all<T: DeserializeOwned>(key: &str, raws: Vec<String>) -> Result<Vec<T>, CacheError> {
    raws.iter().map(|r| decode(key, r)).collect()
}

/// Decodes a stored guild, which lacks its collections (they live in hashes of their own):
/// the ones twilight-model requires are given as empty.
fn decode_guild(key: &str, raw: &str) -> Result<Guild, CacheError> {
    let corrupt = |source| CacheError::corrupt(key, source);
    let mut value: Value = serde_json::from_str(raw).map_err(corrupt)?;
    if let Value::Object(map) = &mut value {
        for required in ["roles", "emojis"] {
            map.entry(required)
                .or_insert_with(|| Value::Array(Vec::new()));
        }
    }
    serde_json::from_value(value).map_err(corrupt)
}

/// Decodes a stored member (without `user`) joined with its stored user.
fn decode_member(key: &str, member: &str, user: &str) -> Result<Member, CacheError> {
    decode(key, &member_with_user(key, member, user)?)
}

impl<C: ConnectionLike + Clone + Send> CacheReader<C> {
    /// A reader over `conn` with the key layout `keys`.
    pub fn new(conn: C, keys: Keys) -> Self {
        Self { conn, keys }
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A handle on the connection for one command (connections are cheap clones).
    pub(super) fn conn(&self) -> C {
        self.conn.clone()
    }

    /// A guild without its collections (`channels`, `roles`, `members`, … are empty; read them
    /// with the other methods). `member_count` and `unavailable` are the stored guild's, which
    /// the state worker keeps current.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn guild(&self, guild: u64) -> Result<Option<Guild>, CacheError> {
        let key = self.keys.guild(guild);
        self.fetch_get(&key)
            .await?
            .map(|raw| decode_guild(&key, &raw))
            .transpose()
    }

    /// The guild's completeness marker and generation.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`].
    pub async fn guild_state(&self, guild: u64) -> Result<Option<GuildState>, CacheError> {
        let map: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.guild_state(guild))
            .query_async(&mut self.conn())
            .await?;
        if map.is_empty() {
            return Ok(None);
        }
        let num = |f: &str| map.get(f).and_then(|v| v.parse::<u64>().ok());
        Ok(Some(GuildState {
            shard: num(state_field::SHARD).and_then(|s| u32::try_from(s).ok()),
            generation: num(state_field::GEN).unwrap_or(0),
            complete: num(state_field::COMPLETE) == Some(1),
            members_chunked: num(state_field::MEMBERS_CHUNKED) == Some(1),
            member_count: num(state_field::MEMBER_COUNT),
            unavailable: num(state_field::UNAVAILABLE) == Some(1),
        }))
    }

    /// A guild channel or thread by id alone (two round trips: the channel's guild, then the
    /// channel).
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn channel(&self, channel: u64) -> Result<Option<Channel>, CacheError> {
        match self.fetch_channel(channel).await? {
            Some((key, raw)) => decode(&key, &raw).map(Some),
            None => Ok(None),
        }
    }

    async fn hget<T: DeserializeOwned>(
        &self,
        key: String,
        field: u64,
    ) -> Result<Option<T>, CacheError> {
        decode_opt(&key, self.fetch_hget(&key, field).await?)
    }

    async fn hvals<T: DeserializeOwned>(&self, key: String) -> Result<Vec<T>, CacheError> {
        decode_all(&key, self.fetch_hvals(&key).await?)
    }

    /// A channel or thread of `guild`.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn guild_channel(
        &self,
        guild: u64,
        channel: u64,
    ) -> Result<Option<Channel>, CacheError> {
        self.hget(self.keys.guild_channels(guild), channel).await
    }

    /// Every channel and thread of `guild`, in no particular order.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn channels(&self, guild: u64) -> Result<Vec<Channel>, CacheError> {
        self.hvals(self.keys.guild_channels(guild)).await
    }

    /// A role of `guild`.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn role(&self, guild: u64, role: u64) -> Result<Option<Role>, CacheError> {
        self.hget(self.keys.guild_roles(guild), role).await
    }

    /// Every role of `guild`, in no particular order.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn roles(&self, guild: u64) -> Result<Vec<Role>, CacheError> {
        self.hvals(self.keys.guild_roles(guild)).await
    }

    /// A member of `guild`, with its user.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn member(&self, guild: u64, user: u64) -> Result<Option<Member>, CacheError> {
        Ok(self.members(guild, &[user]).await?.pop().flatten())
    }

    /// Members of `guild` by user id, in the order asked (`None` where not cached), in one round
    /// trip (`HMGET` of the members and `MGET` of their users in one pipeline).
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn members(
        &self,
        guild: u64,
        users: &[u64],
    ) -> Result<Vec<Option<Member>>, CacheError> {
        let (key, members, user_values) = self.stored_members(guild, users).await?;
        members
            .into_iter()
            .zip(user_values)
            .map(|(m, u)| match (m, u) {
                (Some(m), Some(u)) => decode_member(&key, &m, &u).map(Some),
                _ => Ok(None),
            })
            .collect()
    }

    /// Every cached member id of `guild`.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`].
    pub async fn member_ids(&self, guild: u64) -> Result<Vec<u64>, CacheError> {
        Ok(redis::cmd("HKEYS")
            .arg(self.keys.guild_members(guild))
            .query_async(&mut self.conn())
            .await?)
    }

    /// A user (global).
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn user(&self, user: u64) -> Result<Option<User>, CacheError> {
        let key = self.keys.user(user);
        decode_opt(&key, self.fetch_get(&key).await?)
    }

    /// The bot's own user, from READY and USER_UPDATE.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn current_user(&self) -> Result<Option<CurrentUser>, CacheError> {
        let key = self.keys.current_user();
        decode_opt(&key, self.fetch_get(&key).await?)
    }

    /// A member's presence (cached only when the worker caches presences).
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn presence(&self, guild: u64, user: u64) -> Result<Option<Presence>, CacheError> {
        self.hget(self.keys.guild_presences(guild), user).await
    }

    /// A member's voice state.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn voice_state(
        &self,
        guild: u64,
        user: u64,
    ) -> Result<Option<VoiceState>, CacheError> {
        self.hget(self.keys.guild_voice_states(guild), user).await
    }

    /// Every voice state of `guild` (members connected to a voice channel).
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn voice_states(&self, guild: u64) -> Result<Vec<VoiceState>, CacheError> {
        self.hvals(self.keys.guild_voice_states(guild)).await
    }

    /// Up to `limit` cached messages of `channel`, newest first (two round trips: the ids,
    /// then the messages). Empty when the message cache is off.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn recent_messages(
        &self,
        channel: u64,
        limit: usize,
    ) -> Result<Vec<Message>, CacheError> {
        self.fetch_messages(channel, limit)
            .await?
            .iter()
            .map(|(k, r)| decode(k, r))
            .collect()
    }
}
