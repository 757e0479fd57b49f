//! The Redis key layout of the cache: the one place that names the keys the state worker writes
//! and the SDKs read. `docs/cache.md` documents the same layout for plain Redis clients.
//!
//! Every key starts with a configurable prefix (default `dd:`). Users are global; guild-scoped
//! entities live under their guild (`dd:guild:<guild>:…`). Values are JSON in Discord's shapes
//! (as twilight-model serialises them), either as a string or as the values of a hash keyed by
//! the entity's snowflake.
//!
//! | key | type | value |
//! |---|---|---|
//! | `guild:<g>` | string | the guild object without its collections (`channels`, `members`, `roles`, … are absent: they live in the hashes below); `member_count` kept current |
//! | `guild:<g>:state` | hash | `shard`, `gen`, `complete` (0/1), `members_chunked` (0/1), `member_count`, `unavailable` (0/1) |
//! | `guild:<g>:channels` | hash | channel id → channel object (threads included), `guild_id` set |
//! | `guild:<g>:roles` | hash | role id → role object |
//! | `guild:<g>:members` | hash | user id → member object **without** `user` (read the user from `user:<u>`) |
//! | `guild:<g>:presences` | hash | user id → presence object (only when presences are cached) |
//! | `guild:<g>:voice_states` | hash | user id → voice state object |
//! | `guild:<g>:emojis` | hash | emoji id → emoji object |
//! | `guild:<g>:stickers` | hash | sticker id → sticker object |
//! | `guild:<g>:stage_instances` | hash | stage instance id → stage instance object |
//! | `guild:<g>:scheduled_events` | hash | event id → scheduled event object |
//! | `guild:<g>:integrations` | hash | integration id → integration object |
//! | `guild:<g>:thread:<t>:members` | hash | user id → thread member object |
//! | `guild:<g>:thread_index` | hash | thread id → `1` for every thread with a members hash |
//! | `channel-guild` | hash | channel id → guild id (finds a channel's guild) |
//! | `channel:<c>:messages` | list | message ids, newest first, at most the configured length |
//! | `channel:<c>:message:<m>` | string | message object |
//! | `user:<u>` | string | user object, kept while a guild of the bot holds the user as a member |
//! | `user-refs` | hash | user id → how many cached guilds hold the user as a member |
//! | `user:@me` | string | the bot's current user (READY, USER_UPDATE) |
//! | `shard:<s>` | hash | `session`, `seq` (last applied sequence), `gen` (IDENTIFY generation) |
//! | `shard:<s>:sessions` | set | sessions of the shard that were replaced (their late events are ignored) |
//! | `shard:<s>:guilds` | hash | guild id → generation in which the shard last listed it |

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = crate::defaults::KEY_PREFIX;

/// Suffixes of the per-guild keys, `guild:<g><suffix>`, removed together when a guild is
/// deleted. The state worker's Lua script receives this list, so both sides agree.
pub const GUILD_SUFFIXES: &[&str] = &[
    "",
    ":state",
    ":channels",
    ":roles",
    ":members",
    ":presences",
    ":voice_states",
    ":emojis",
    ":stickers",
    ":stage_instances",
    ":scheduled_events",
    ":thread_index",
    ":integrations",
];

/// Fields of the `guild:<g>:state` hash.
pub mod state_field {
    /// The shard the guild was last received on (decimal).
    pub const SHARD: &str = "shard";
    /// The shard's IDENTIFY generation in which the guild was last sent (decimal).
    pub const GEN: &str = "gen";
    /// `1` once the guild's GUILD_CREATE of the current session is applied, `0` while a new
    /// session is refilling it (the previous data stays readable meanwhile).
    pub const COMPLETE: &str = "complete";
    /// `1` once every member is cached (GUILD_CREATE carried all of them, the last
    /// GUILD_MEMBERS_CHUNK of a request without a nonce arrived, or the last chunk of one with a
    /// nonce left `member_count` members cached).
    pub const MEMBERS_CHUNKED: &str = "members_chunked";
    /// Member count, kept up to date by GUILD_MEMBER_ADD/REMOVE.
    pub const MEMBER_COUNT: &str = "member_count";
    /// `1` while Discord reports the guild unavailable (outage); the cached data is kept.
    pub const UNAVAILABLE: &str = "unavailable";
}

/// Names the cache's keys under one prefix.
///
/// ```
/// let keys = ddiscord_model::keyspace::cache::Keys::default();
/// assert_eq!(keys.guild(81384788765712384), "dd:guild:81384788765712384");
/// assert_eq!(keys.guild_members(1), "dd:guild:1:members");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self::new(DEFAULT_PREFIX)
    }
}

impl Keys {
    /// Keys under `prefix` (e.g. `dd:`; include the separator).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `guild:<g>`: the guild object without collections (string, JSON).
    pub fn guild(&self, guild: u64) -> String {
        format!("{}guild:{guild}", self.prefix)
    }

    fn guild_sub(&self, guild: u64, sub: &str) -> String {
        format!("{}guild:{guild}:{sub}", self.prefix)
    }

    /// `guild:<g>:state`: generation, completeness marker and counters (hash).
    pub fn guild_state(&self, guild: u64) -> String {
        self.guild_sub(guild, "state")
    }

    /// `guild:<g>:channels`: channel id → channel (hash).
    pub fn guild_channels(&self, guild: u64) -> String {
        self.guild_sub(guild, "channels")
    }

    /// `guild:<g>:roles`: role id → role (hash).
    pub fn guild_roles(&self, guild: u64) -> String {
        self.guild_sub(guild, "roles")
    }

    /// `guild:<g>:members`: user id → member without `user` (hash).
    pub fn guild_members(&self, guild: u64) -> String {
        self.guild_sub(guild, "members")
    }

    /// `guild:<g>:presences`: user id → presence (hash).
    pub fn guild_presences(&self, guild: u64) -> String {
        self.guild_sub(guild, "presences")
    }

    /// `guild:<g>:voice_states`: user id → voice state (hash).
    pub fn guild_voice_states(&self, guild: u64) -> String {
        self.guild_sub(guild, "voice_states")
    }

    /// `guild:<g>:emojis`: emoji id → emoji (hash).
    pub fn guild_emojis(&self, guild: u64) -> String {
        self.guild_sub(guild, "emojis")
    }

    /// `guild:<g>:stickers`: sticker id → sticker (hash).
    pub fn guild_stickers(&self, guild: u64) -> String {
        self.guild_sub(guild, "stickers")
    }

    /// `guild:<g>:stage_instances`: stage instance id → stage instance (hash).
    pub fn guild_stage_instances(&self, guild: u64) -> String {
        self.guild_sub(guild, "stage_instances")
    }

    /// `guild:<g>:scheduled_events`: scheduled event id → event (hash).
    pub fn guild_scheduled_events(&self, guild: u64) -> String {
        self.guild_sub(guild, "scheduled_events")
    }

    /// `guild:<g>:integrations`: integration id → integration (hash).
    pub fn guild_integrations(&self, guild: u64) -> String {
        self.guild_sub(guild, "integrations")
    }

    /// `guild:<g>:thread_index`: thread id → `1` for every thread that has a members hash, so
    /// deleting the guild finds them (hash).
    pub fn guild_thread_index(&self, guild: u64) -> String {
        self.guild_sub(guild, "thread_index")
    }

    /// `guild:<g>:thread:<t>:members`: user id → thread member (hash).
    pub fn thread_members(&self, guild: u64, thread: u64) -> String {
        format!("{}guild:{guild}:thread:{thread}:members", self.prefix)
    }

    /// `channel-guild`: channel id → guild id (hash), to find a channel by id alone.
    pub fn channel_guild(&self) -> String {
        format!("{}channel-guild", self.prefix)
    }

    /// `channel:<c>:messages`: ids of the cached messages, newest first (list).
    pub fn channel_messages(&self, channel: u64) -> String {
        format!("{}channel:{channel}:messages", self.prefix)
    }

    /// `channel:<c>:message:<m>`: one cached message (string, JSON).
    pub fn message(&self, channel: u64, message: u64) -> String {
        format!("{}channel:{channel}:message:{message}", self.prefix)
    }

    /// `user:<u>`: a user (string, JSON). Users are global.
    pub fn user(&self, user: u64) -> String {
        format!("{}user:{user}", self.prefix)
    }

    /// `user-refs`: user id → how many cached guilds hold the user as a member (hash). The
    /// projection removes `user:<u>` when the count reaches 0.
    pub fn user_refs(&self) -> String {
        format!("{}user-refs", self.prefix)
    }

    /// `user:@me`: the bot's own user (string, JSON).
    pub fn current_user(&self) -> String {
        format!("{}user:@me", self.prefix)
    }

    /// `shard:<s>`: `session`, `seq`, `gen` of the shard's projection (hash).
    pub fn shard(&self, shard: u32) -> String {
        format!("{}shard:{shard}", self.prefix)
    }

    /// `shard:<s>:sessions`: replaced sessions of the shard (set).
    pub fn shard_sessions(&self, shard: u32) -> String {
        format!("{}shard:{shard}:sessions", self.prefix)
    }

    /// `shard:<s>:guilds`: guild id → generation in which the shard last listed it (hash).
    pub fn shard_guilds(&self, shard: u32) -> String {
        format!("{}shard:{shard}:guilds", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_match_builders() {
        let k = Keys::new("x:");
        let built = [
            k.guild(5),
            k.guild_state(5),
            k.guild_channels(5),
            k.guild_roles(5),
            k.guild_members(5),
            k.guild_presences(5),
            k.guild_voice_states(5),
            k.guild_emojis(5),
            k.guild_stickers(5),
            k.guild_stage_instances(5),
            k.guild_scheduled_events(5),
            k.guild_thread_index(5),
            k.guild_integrations(5),
        ];
        let from_suffixes: Vec<String> = GUILD_SUFFIXES
            .iter()
            .map(|s| format!("x:guild:5{s}"))
            .collect();
        assert_eq!(built.to_vec(), from_suffixes);
        assert_eq!(k.thread_members(5, 6), "x:guild:5:thread:6:members");
        assert_eq!(k.message(1, 2), "x:channel:1:message:2");
    }
}
