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

/// The members hash's key, then the stored members and their stored users.
pub(super) type StoredMembers = (String, Vec<Option<String>>, Vec<Option<String>>);

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

/// Joins a stored member (without `user`) with its user.
fn join_member(key: &str, member: &str, user: &str) -> Result<Member, CacheError> {
    let corrupt = |source| CacheError::corrupt(key, source);
    let mut value: Value = serde_json::from_str(member).map_err(corrupt)?;
    let user: Value = serde_json::from_str(user).map_err(corrupt)?;
    if let Value::Object(map) = &mut value {
        map.insert("user".to_owned(), user);
    }
    serde_json::from_value(value).map_err(corrupt)
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

    /// The keys of up to `limit` cached messages of `channel`, newest first.
    pub(super) async fn message_keys(
        &self,
        channel: u64,
        limit: usize,
    ) -> Result<Vec<String>, CacheError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let ids: Vec<u64> = redis::cmd("LRANGE")
            .arg(self.keys.channel_messages(channel))
            .arg(0)
            .arg(stop)
            .query_async(&mut self.conn())
            .await?;
        Ok(ids.iter().map(|m| self.keys.message(channel, *m)).collect())
    }

    /// A guild without its collections (`channels`, `roles`, `members`, … are empty; read them
    /// with the other methods), with `member_count` and `unavailable` as currently known.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn guild(&self, guild: u64) -> Result<Option<Guild>, CacheError> {
        let key = self.keys.guild(guild);
        let (raw, state): (Option<String>, Vec<Option<String>>) = redis::pipe()
            .get(&key)
            .cmd("HMGET")
            .arg(self.keys.guild_state(guild))
            .arg(&[state_field::MEMBER_COUNT, state_field::UNAVAILABLE])
            .query_async(&mut self.conn.clone())
            .await?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let mut guild = decode_guild(&key, &raw)?;
        if let Some(count) = state
            .first()
            .cloned()
            .flatten()
            .and_then(|c| c.parse().ok())
        {
            guild.member_count = Some(count);
        }
        if state.get(1).cloned().flatten().as_deref() == Some("1") {
            guild.unavailable = Some(true);
        }
        Ok(Some(guild))
    }

    /// The guild's completeness marker and generation.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`].
    pub async fn guild_state(&self, guild: u64) -> Result<Option<GuildState>, CacheError> {
        let map: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.guild_state(guild))
            .query_async(&mut self.conn.clone())
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
        let guild: Option<u64> = redis::cmd("HGET")
            .arg(self.keys.channel_guild())
            .arg(channel)
            .query_async(&mut self.conn.clone())
            .await?;
        match guild {
            Some(guild) => self.guild_channel(guild, channel).await,
            None => Ok(None),
        }
    }

    async fn hget<T: DeserializeOwned>(
        &self,
        key: String,
        field: u64,
    ) -> Result<Option<T>, CacheError> {
        let raw: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg(field)
            .query_async(&mut self.conn.clone())
            .await?;
        decode_opt(&key, raw)
    }

    async fn hvals<T: DeserializeOwned>(&self, key: String) -> Result<Vec<T>, CacheError> {
        let raws: Vec<String> = redis::cmd("HVALS")
            .arg(&key)
            .query_async(&mut self.conn.clone())
            .await?;
        decode_all(&key, raws)
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
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let (key, members, user_values) = self.stored_members(guild, users).await?;
        members
            .into_iter()
            .zip(user_values)
            .map(|(m, u)| match (m, u) {
                (Some(m), Some(u)) => join_member(&key, &m, &u).map(Some),
                _ => Ok(None),
            })
            .collect()
    }

    /// The stored members of `guild` and their stored users, in the order of `users`, in one
    /// round trip (`HMGET` and `MGET` pipelined); with the members hash's key.
    pub(super) async fn stored_members(
        &self,
        guild: u64,
        users: &[u64],
    ) -> Result<StoredMembers, CacheError> {
        let key = self.keys.guild_members(guild);
        let user_keys: Vec<String> = users.iter().map(|u| self.keys.user(*u)).collect();
        let (members, user_values) = redis::pipe()
            .cmd("HMGET")
            .arg(&key)
            .arg(users)
            .cmd("MGET")
            .arg(&user_keys)
            .query_async(&mut self.conn())
            .await?;
        Ok((key, members, user_values))
    }

    /// Every cached member id of `guild`.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`].
    pub async fn member_ids(&self, guild: u64) -> Result<Vec<u64>, CacheError> {
        Ok(redis::cmd("HKEYS")
            .arg(self.keys.guild_members(guild))
            .query_async(&mut self.conn.clone())
            .await?)
    }

    /// A user (global).
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn user(&self, user: u64) -> Result<Option<User>, CacheError> {
        let key = self.keys.user(user);
        let raw: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.conn.clone())
            .await?;
        decode_opt(&key, raw)
    }

    /// The bot's own user, from READY and USER_UPDATE.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`], [`CacheErrorKind::Corrupt`].
    pub async fn current_user(&self) -> Result<Option<CurrentUser>, CacheError> {
        let key = self.keys.current_user();
        let raw: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.conn.clone())
            .await?;
        decode_opt(&key, raw)
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
        let keys = self.message_keys(channel, limit).await?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let raws: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn.clone())
            .await?;
        keys.iter()
            .zip(raws)
            .filter_map(|(k, r)| r.map(|r| decode(k, &r)))
            .collect()
    }
}
