//! Reads that answer with the stored JSON text itself: values are checked to be JSON and
//! joined into the answer (a member spliced with its user, lists wrapped in `[...]`) without
//! being decoded into a model and encoded again, so the Python and Node packages parse each
//! answer once, and fields Discord added after twilight-model reach them unchanged.

use redis::aio::ConnectionLike;
use serde::de::Error as _;
use serde_json::value::RawValue;

use super::error::CacheError;
use super::reader::CacheReader;

/// `raw` checked to be JSON (one pass, nothing allocated); `key` names it in the error.
fn checked<'a>(key: &str, raw: &'a str) -> Result<&'a str, CacheError> {
    let value: &RawValue =
        serde_json::from_str(raw).map_err(|source| CacheError::corrupt(key, source))?;
    Ok(value.get())
}

/// `raw` checked to be a JSON object; returns the text up to (not including) its closing `}`
/// and whether the object has members.
fn object_body<'a>(key: &str, raw: &'a str) -> Result<(&'a str, bool), CacheError> {
    let text = checked(key, raw)?;
    let not_object = || {
        CacheError::corrupt(
            key,
            serde_json::Error::custom("the stored value is not a JSON object"),
        )
    };
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(not_object)?;
    Ok((&text[..text.len() - 1], !inner.trim().is_empty()))
}

/// Appends `"name":value` fields to a stored object.
fn with_fields(key: &str, object: &str, fields: &[(&str, &str)]) -> Result<String, CacheError> {
    let (body, mut nonempty) = object_body(key, object)?;
    let extra: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let mut out = String::with_capacity(body.len() + extra + 1);
    out.push_str(body);
    for (name, value) in fields {
        if nonempty {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        out.push_str(value);
        nonempty = true;
    }
    out.push('}');
    Ok(out)
}

/// The stored value, or `null`.
fn one(key: &str, raw: Option<String>) -> Result<String, CacheError> {
    match raw {
        Some(raw) => {
            checked(key, &raw)?;
            Ok(raw)
        }
        None => Ok("null".to_owned()),
    }
}

/// Values (already checked) joined into a JSON array.
fn array<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    out
}

/// Stored values joined into a JSON array, each checked.
fn checked_array(key: &str, raws: &[String]) -> Result<String, CacheError> {
    for raw in raws {
        checked(key, raw)?;
    }
    Ok(array(raws))
}

/// A stored member (which lacks `user`) with its stored user as `user`.
pub(super) fn member_with_user(key: &str, member: &str, user: &str) -> Result<String, CacheError> {
    let user = checked(key, user)?;
    with_fields(key, member, &[("user", user)])
}

impl<C: ConnectionLike + Clone + Send> CacheReader<C> {
    async fn get_text(&self, key: &str) -> Result<String, CacheError> {
        one(key, self.fetch_get(key).await?)
    }

    async fn hget_text(&self, key: &str, field: u64) -> Result<String, CacheError> {
        one(key, self.fetch_hget(key, field).await?)
    }

    async fn hvals_text(&self, key: &str) -> Result<String, CacheError> {
        checked_array(key, &self.fetch_hvals(key).await?)
    }

    /// [`guild`](Self::guild) as the stored JSON: the guild object without its collections,
    /// `member_count` kept by GUILD_MEMBER_ADD/REMOVE; `null` when not cached.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`](super::CacheErrorKind::Redis),
    /// [`CacheErrorKind::Corrupt`](super::CacheErrorKind::Corrupt).
    pub async fn guild_json(&self, guild: u64) -> Result<String, CacheError> {
        self.get_text(&self.keys().guild(guild)).await
    }

    /// The guild object with its `roles`, `channels` (channels and threads) and `emojis`
    /// arrays filled from their hashes, in one round trip (a pipeline of `GET` and three
    /// `HVALS`); `null` when not cached.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn guild_with_collections_json(&self, guild: u64) -> Result<String, CacheError> {
        let keys = self.keys();
        let key = keys.guild(guild);
        let (raw, roles, channels, emojis): (
            Option<String>,
            Vec<String>,
            Vec<String>,
            Vec<String>,
        ) = redis::pipe()
            .get(&key)
            .cmd("HVALS")
            .arg(keys.guild_roles(guild))
            .cmd("HVALS")
            .arg(keys.guild_channels(guild))
            .cmd("HVALS")
            .arg(keys.guild_emojis(guild))
            .query_async(&mut self.conn())
            .await?;
        let Some(raw) = raw else {
            return Ok("null".to_owned());
        };
        let roles = checked_array(&keys.guild_roles(guild), &roles)?;
        let channels = checked_array(&keys.guild_channels(guild), &channels)?;
        let emojis = checked_array(&keys.guild_emojis(guild), &emojis)?;
        with_fields(
            &key,
            &raw,
            &[
                ("roles", &roles),
                ("channels", &channels),
                ("emojis", &emojis),
            ],
        )
    }

    /// [`channel`](Self::channel) as the stored JSON, or `null` (two round trips).
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn channel_json(&self, channel: u64) -> Result<String, CacheError> {
        match self.fetch_channel(channel).await? {
            Some((key, raw)) => one(&key, Some(raw)),
            None => Ok("null".to_owned()),
        }
    }

    /// [`channels`](Self::channels) as a JSON array of the stored channels.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn channels_json(&self, guild: u64) -> Result<String, CacheError> {
        self.hvals_text(&self.keys().guild_channels(guild)).await
    }

    /// [`role`](Self::role) as the stored JSON, or `null`.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn role_json(&self, guild: u64, role: u64) -> Result<String, CacheError> {
        self.hget_text(&self.keys().guild_roles(guild), role).await
    }

    /// [`roles`](Self::roles) as a JSON array of the stored roles.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn roles_json(&self, guild: u64) -> Result<String, CacheError> {
        self.hvals_text(&self.keys().guild_roles(guild)).await
    }

    /// [`member`](Self::member) as JSON: the stored member with the stored user spliced in as
    /// `user`; `null` when either is not cached.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn member_json(&self, guild: u64, user: u64) -> Result<String, CacheError> {
        let (key, mut members, mut users) = self.stored_members(guild, &[user]).await?;
        match (members.pop().flatten(), users.pop().flatten()) {
            (Some(m), Some(u)) => member_with_user(&key, &m, &u),
            _ => Ok("null".to_owned()),
        }
    }

    /// [`members`](Self::members) as a JSON array in the order asked, `null` where not
    /// cached, in one round trip (`HMGET` and `MGET` in one pipeline).
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn members_json(&self, guild: u64, users: &[u64]) -> Result<String, CacheError> {
        let (key, members, user_values) = self.stored_members(guild, users).await?;
        let joined = members
            .into_iter()
            .zip(user_values)
            .map(|pair| match pair {
                (Some(m), Some(u)) => member_with_user(&key, &m, &u),
                _ => Ok("null".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(array(joined))
    }

    /// [`member_ids`](Self::member_ids) as a JSON array of snowflake strings.
    ///
    /// # Errors
    /// [`CacheErrorKind::Redis`](super::CacheErrorKind::Redis).
    pub async fn member_ids_json(&self, guild: u64) -> Result<String, CacheError> {
        let ids = self.member_ids(guild).await?;
        Ok(array(ids.iter().map(|id| format!("\"{id}\""))))
    }

    /// [`user`](Self::user) as the stored JSON, or `null`.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn user_json(&self, user: u64) -> Result<String, CacheError> {
        self.get_text(&self.keys().user(user)).await
    }

    /// [`current_user`](Self::current_user) as the stored JSON, or `null`.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn current_user_json(&self) -> Result<String, CacheError> {
        self.get_text(&self.keys().current_user()).await
    }

    /// [`presence`](Self::presence) as the stored JSON, or `null`.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn presence_json(&self, guild: u64, user: u64) -> Result<String, CacheError> {
        self.hget_text(&self.keys().guild_presences(guild), user)
            .await
    }

    /// [`voice_state`](Self::voice_state) as the stored JSON, or `null`.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn voice_state_json(&self, guild: u64, user: u64) -> Result<String, CacheError> {
        self.hget_text(&self.keys().guild_voice_states(guild), user)
            .await
    }

    /// [`voice_states`](Self::voice_states) as a JSON array of the stored voice states.
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn voice_states_json(&self, guild: u64) -> Result<String, CacheError> {
        self.hvals_text(&self.keys().guild_voice_states(guild))
            .await
    }

    /// [`recent_messages`](Self::recent_messages) as a JSON array of the stored messages,
    /// newest first (two round trips).
    ///
    /// # Errors
    /// As [`guild_json`](Self::guild_json).
    pub async fn recent_messages_json(
        &self,
        channel: u64,
        limit: usize,
    ) -> Result<String, CacheError> {
        let messages = self.fetch_messages(channel, limit).await?;
        for (key, raw) in &messages {
            checked(key, raw)?;
        }
        Ok(array(messages.iter().map(|(_, raw)| raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheErrorKind;

    #[test]
    fn a_member_gets_its_user_as_the_last_field() {
        let m = member_with_user("k", r#"{"nick":"a","roles":[]}"#, r#"{"id":"1"}"#);
        assert_eq!(
            m.expect("joined"),
            r#"{"nick":"a","roles":[],"user":{"id":"1"}}"#
        );
        let empty = member_with_user("k", "{ }", r#"{"id":"1"}"#);
        assert_eq!(empty.expect("joined"), r#"{ "user":{"id":"1"}}"#);
    }

    #[test]
    fn values_that_are_not_json_objects_are_corrupt() {
        for (member, user) in [("[1]", "{}"), ("{", "{}"), ("{}", "nope"), ("{} x", "{}")] {
            let e = member_with_user("dd:guild:1:members", member, user).expect_err("not a member");
            assert_eq!(
                e.kind(),
                &CacheErrorKind::Corrupt {
                    key: "dd:guild:1:members".into()
                },
                "{member} {user}"
            );
        }
    }

    #[test]
    fn arrays_and_fields_are_joined_as_json() {
        assert_eq!(array(["1", "{}"]), "[1,{}]");
        assert_eq!(array(Vec::<String>::new()), "[]");
        let g = with_fields("k", r#"{"id":"1"}"#, &[("roles", "[]"), ("emojis", "[{}]")]);
        assert_eq!(g.expect("joined"), r#"{"id":"1","roles":[],"emojis":[{}]}"#);
        let parsed: serde_json::Value =
            serde_json::from_str(&with_fields("k", "{}", &[("a", "1")]).expect("joined"))
                .expect("valid JSON");
        assert_eq!(parsed, serde_json::json!({"a": 1}));
    }
}
