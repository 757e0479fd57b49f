//! One entry point for every cache read: a [`CacheQuery`] names a read of [`CacheReader`] and
//! its ids, and [`CacheReader::query_json`] answers it as JSON text. The Python and Node
//! bindings expose this one call; their typed methods (`cache.member(...)`) are thin wrappers
//! that name the read, so a read is written once, here.

use ddiscord_model::snowflake::{SnowflakeError, parse_snowflake};
use redis::aio::ConnectionLike;
use serde::Serialize;

use super::error::CacheError;
use super::reader::CacheReader;

/// Messages [`CacheQuery::RecentMessages`] reads when no limit is given.
pub const DEFAULT_RECENT_MESSAGES: usize = 50;

/// One cache read and its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheQuery {
    /// [`CacheReader::guild`].
    Guild {
        /// The guild.
        guild: u64,
    },
    /// [`CacheReader::guild_with_collections_json`].
    GuildWithCollections {
        /// The guild.
        guild: u64,
    },
    /// [`CacheReader::guild_state`].
    GuildState {
        /// The guild.
        guild: u64,
    },
    /// [`CacheReader::channel`].
    Channel {
        /// The channel or thread.
        channel: u64,
    },
    /// [`CacheReader::channels`].
    Channels {
        /// The guild.
        guild: u64,
    },
    /// [`CacheReader::role`].
    Role {
        /// The guild.
        guild: u64,
        /// The role.
        role: u64,
    },
    /// [`CacheReader::roles`].
    Roles {
        /// The guild.
        guild: u64,
    },
    /// [`CacheReader::member`].
    Member {
        /// The guild.
        guild: u64,
        /// The member's user.
        user: u64,
    },
    /// [`CacheReader::members`].
    Members {
        /// The guild.
        guild: u64,
        /// The members' users, in the order the answer keeps.
        users: Vec<u64>,
    },
    /// [`CacheReader::member_ids`].
    MemberIds {
        /// The guild.
        guild: u64,
    },
    /// [`CacheReader::user`].
    User {
        /// The user.
        user: u64,
    },
    /// [`CacheReader::current_user`].
    CurrentUser,
    /// [`CacheReader::presence`].
    Presence {
        /// The guild.
        guild: u64,
        /// The member's user.
        user: u64,
    },
    /// [`CacheReader::voice_state`].
    VoiceState {
        /// The guild.
        guild: u64,
        /// The member's user.
        user: u64,
    },
    /// [`CacheReader::voice_states`].
    VoiceStates {
        /// The guild.
        guild: u64,
    },
    /// [`CacheReader::recent_messages`].
    RecentMessages {
        /// The channel.
        channel: u64,
        /// Most messages to read.
        limit: usize,
    },
}

/// Every read by name, with the ids it takes in order (`user_ids...`: any number of them).
pub const CACHE_READS: &[(&str, &[&str])] = &[
    ("guild", &["guild_id"]),
    ("guild_with_collections", &["guild_id"]),
    ("guild_state", &["guild_id"]),
    ("channel", &["channel_id"]),
    ("channels", &["guild_id"]),
    ("role", &["guild_id", "role_id"]),
    ("roles", &["guild_id"]),
    ("member", &["guild_id", "user_id"]),
    ("members", &["guild_id", "user_ids..."]),
    ("member_ids", &["guild_id"]),
    ("user", &["user_id"]),
    ("current_user", &[]),
    ("presence", &["guild_id", "user_id"]),
    ("voice_state", &["guild_id", "user_id"]),
    ("voice_states", &["guild_id"]),
    ("recent_messages", &["channel_id"]),
];

/// Why a [`CacheQuery`] could not be built from a name and ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheQueryError {
    /// No read has this name.
    #[error("there is no cache read {name:?}; the reads are {}", read_names())]
    UnknownRead {
        /// The name given.
        name: String,
    },
    /// The read takes other ids.
    #[error("cache read {name} takes {expected}, got {got} id(s)")]
    Arity {
        /// The read.
        name: &'static str,
        /// The ids it takes.
        expected: String,
        /// How many were given.
        got: usize,
    },
    /// An id is not a snowflake.
    #[error(transparent)]
    InvalidId(#[from] SnowflakeError),
}

fn read_names() -> String {
    CACHE_READS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl CacheQuery {
    /// The query `name` (a name of [`CACHE_READS`]) with its ids as decimal text, in the order
    /// [`CACHE_READS`] lists them; `limit` is the most messages of `recent_messages` (default
    /// [`DEFAULT_RECENT_MESSAGES`]) and ignored by the other reads.
    ///
    /// # Errors
    /// [`CacheQueryError`] for an unknown name, a wrong number of ids or an id that is not a
    /// snowflake.
    pub fn parse<S: AsRef<str>>(
        name: &str,
        ids: &[S],
        limit: Option<usize>,
    ) -> Result<Self, CacheQueryError> {
        let Some(&(name, params)) = CACHE_READS.iter().find(|(n, _)| *n == name) else {
            return Err(CacheQueryError::UnknownRead {
                name: name.to_owned(),
            });
        };
        let many = params.last().is_some_and(|p| p.ends_with("..."));
        let fixed = if many { params.len() - 1 } else { params.len() };
        if ids.len() < fixed || (!many && ids.len() != fixed) {
            return Err(CacheQueryError::Arity {
                name,
                expected: params.join(", "),
                got: ids.len(),
            });
        }
        let id = |i: usize| parse_snowflake(params[i], ids[i].as_ref());
        Ok(match name {
            "guild" => Self::Guild { guild: id(0)? },
            "guild_with_collections" => Self::GuildWithCollections { guild: id(0)? },
            "guild_state" => Self::GuildState { guild: id(0)? },
            "channel" => Self::Channel { channel: id(0)? },
            "channels" => Self::Channels { guild: id(0)? },
            "role" => Self::Role {
                guild: id(0)?,
                role: id(1)?,
            },
            "roles" => Self::Roles { guild: id(0)? },
            "member" => Self::Member {
                guild: id(0)?,
                user: id(1)?,
            },
            "members" => Self::Members {
                guild: id(0)?,
                users: ids[1..]
                    .iter()
                    .map(|u| parse_snowflake("user_id", u.as_ref()))
                    .collect::<Result<_, _>>()?,
            },
            "member_ids" => Self::MemberIds { guild: id(0)? },
            "user" => Self::User { user: id(0)? },
            "current_user" => Self::CurrentUser,
            "presence" => Self::Presence {
                guild: id(0)?,
                user: id(1)?,
            },
            "voice_state" => Self::VoiceState {
                guild: id(0)?,
                user: id(1)?,
            },
            "voice_states" => Self::VoiceStates { guild: id(0)? },
            _ => Self::RecentMessages {
                channel: id(0)?,
                limit: limit.unwrap_or(DEFAULT_RECENT_MESSAGES),
            },
        })
    }
}

fn json<T: Serialize>(value: &T) -> Result<String, CacheError> {
    serde_json::to_string(value).map_err(CacheError::encode)
}

impl<C: ConnectionLike + Clone + Send> CacheReader<C> {
    /// Answers `query` as JSON text: the values as the state worker stored them (Discord's
    /// JSON, `docs/cache.md`), an object or `null` for single reads, an array for the others
    /// (`members` keeps the order asked, with `null` where not cached; `member_ids` is an
    /// array of snowflake strings; `guild_state` is [`GuildState`](super::GuildState)'s
    /// fields). Stored values are checked to be JSON but not decoded (the `*_json` reads).
    ///
    /// # Errors
    /// As the read it names.
    pub async fn query_json(&self, query: &CacheQuery) -> Result<String, CacheError> {
        match query {
            CacheQuery::Guild { guild } => self.guild_json(*guild).await,
            CacheQuery::GuildWithCollections { guild } => {
                self.guild_with_collections_json(*guild).await
            }
            CacheQuery::GuildState { guild } => json(&self.guild_state(*guild).await?),
            CacheQuery::Channel { channel } => self.channel_json(*channel).await,
            CacheQuery::Channels { guild } => self.channels_json(*guild).await,
            CacheQuery::Role { guild, role } => self.role_json(*guild, *role).await,
            CacheQuery::Roles { guild } => self.roles_json(*guild).await,
            CacheQuery::Member { guild, user } => self.member_json(*guild, *user).await,
            CacheQuery::Members { guild, users } => self.members_json(*guild, users).await,
            CacheQuery::MemberIds { guild } => self.member_ids_json(*guild).await,
            CacheQuery::User { user } => self.user_json(*user).await,
            CacheQuery::CurrentUser => self.current_user_json().await,
            CacheQuery::Presence { guild, user } => self.presence_json(*guild, *user).await,
            CacheQuery::VoiceState { guild, user } => self.voice_state_json(*guild, *user).await,
            CacheQuery::VoiceStates { guild } => self.voice_states_json(*guild).await,
            CacheQuery::RecentMessages { channel, limit } => {
                self.recent_messages_json(*channel, *limit).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_read_parses() {
        for (name, params) in CACHE_READS {
            let ids: Vec<&str> = params.iter().map(|_| "7").collect();
            let q = CacheQuery::parse(name, &ids, None);
            assert!(q.is_ok(), "{name}: {q:?}");
        }
        assert_eq!(
            CacheQuery::parse("members", &["1", "2", "3"], None),
            Ok(CacheQuery::Members {
                guild: 1,
                users: vec![2, 3]
            })
        );
        assert_eq!(
            CacheQuery::parse::<&str>("recent_messages", &["5"], Some(3)),
            Ok(CacheQuery::RecentMessages {
                channel: 5,
                limit: 3
            })
        );
    }

    #[test]
    fn bad_names_counts_and_ids_are_refused() {
        assert!(matches!(
            CacheQuery::parse::<&str>("guilds", &[], None),
            Err(CacheQueryError::UnknownRead { .. })
        ));
        assert!(matches!(
            CacheQuery::parse("member", &["1"], None),
            Err(CacheQueryError::Arity { got: 1, .. })
        ));
        let e = CacheQuery::parse("member", &["1", "x"], None).expect_err("x is no id");
        assert_eq!(
            e,
            CacheQueryError::InvalidId(SnowflakeError::new("user_id", "x"))
        );
    }
}
