//! The Redis side of every cache read: each method is the commands of one read, returning the
//! stored text untouched. The typed reads ([`super::reader`]) decode it; the JSON reads
//! ([`super::text`]) check it and join it into their answer.

use redis::aio::ConnectionLike;

use super::error::CacheError;
use super::reader::CacheReader;

/// The members hash's key, then the stored members and their stored users, in the order asked.
pub(super) type StoredMembers = (String, Vec<Option<String>>, Vec<Option<String>>);

impl<C: ConnectionLike + Clone + Send> CacheReader<C> {
    /// `GET key`.
    pub(super) async fn fetch_get(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.conn())
            .await?)
    }

    /// `HGET key field`.
    pub(super) async fn fetch_hget(
        &self,
        key: &str,
        field: u64,
    ) -> Result<Option<String>, CacheError> {
        Ok(redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query_async(&mut self.conn())
            .await?)
    }

    /// `HVALS key`.
    pub(super) async fn fetch_hvals(&self, key: &str) -> Result<Vec<String>, CacheError> {
        Ok(redis::cmd("HVALS")
            .arg(key)
            .query_async(&mut self.conn())
            .await?)
    }

    /// A channel or thread by id alone: its guild from the channel index, then the channel
    /// (two round trips). The key is the guild's channels hash; `None` when not cached.
    pub(super) async fn fetch_channel(
        &self,
        channel: u64,
    ) -> Result<Option<(String, String)>, CacheError> {
        let guild: Option<u64> = redis::cmd("HGET")
            .arg(self.keys().channel_guild())
            .arg(channel)
            .query_async(&mut self.conn())
            .await?;
        let Some(guild) = guild else {
            return Ok(None);
        };
        let key = self.keys().guild_channels(guild);
        Ok(self.fetch_hget(&key, channel).await?.map(|raw| (key, raw)))
    }

    /// The stored members of `guild` and their stored users, in the order of `users`, in one
    /// round trip (`HMGET` and `MGET` pipelined).
    pub(super) async fn stored_members(
        &self,
        guild: u64,
        users: &[u64],
    ) -> Result<StoredMembers, CacheError> {
        let key = self.keys().guild_members(guild);
        if users.is_empty() {
            return Ok((key, Vec::new(), Vec::new()));
        }
        let user_keys: Vec<String> = users.iter().map(|u| self.keys().user(*u)).collect();
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

    /// Up to `limit` cached messages of `channel`, newest first, each with its key (two round
    /// trips: `LRANGE` of the ids, then `MGET`; messages evicted in between are left out).
    pub(super) async fn fetch_messages(
        &self,
        channel: u64,
        limit: usize,
    ) -> Result<Vec<(String, String)>, CacheError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let ids: Vec<u64> = redis::cmd("LRANGE")
            .arg(self.keys().channel_messages(channel))
            .arg(0)
            .arg(stop)
            .query_async(&mut self.conn())
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|m| self.keys().message(channel, *m))
            .collect();
        let raws: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn())
            .await?;
        Ok(keys
            .into_iter()
            .zip(raws)
            .filter_map(|(k, r)| r.map(|r| (k, r)))
            .collect())
    }
}
