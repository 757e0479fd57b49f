//! Cache reads (`client.cache.*` in JavaScript): one native entry point over the core's
//! [`CacheQuery`] (`ddiscord::cache`, key layout in `docs/cache.md`); the typed methods of the
//! JS entry name the read.
//!
//! The core decodes the stored JSON into its twilight-model type (so a value that is not the
//! documented shape is a `DDISCORD_CORRUPT_CACHE` error, never a half-read object) and returns
//! it re-encoded as JSON text, which the JS entry turns into a plain object with `JSON.parse`:
//! faster than building the object through N-API field by field.

use ddiscord::cache::CacheQuery;
use ddiscord::client::ClientError;
use napi_derive::napi;

use crate::client::Client;
use crate::error::{NodeError, Settled};

#[napi]
impl Client {
    /// Answers the cache read `read` (`guild`, `guild_state`, `channel`, `channels`, `role`,
    /// `roles`, `member`, `members`, `member_ids`, `user`, `current_user`, `presence`,
    /// `voice_state`, `voice_states`, `recent_messages`) for `ids` (snowflake strings, in the
    /// read's order; `members` takes the guild, then any number of users) as JSON text:
    /// `null` when not cached, an array for the reads of several values. `limit` is the most
    /// messages of `recent_messages` (default 50).
    ///
    /// Errors: `DDISCORD_INVALID_ID`, `DDISCORD_INVALID_ARGUMENT` (unknown read, wrong number
    /// of ids), `DDISCORD_CACHE` (Redis unreachable or failing), `DDISCORD_CORRUPT_CACHE`,
    /// `DDISCORD_CLOSED`.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn cache_query(
        &self,
        read: String,
        ids: Vec<String>,
        limit: Option<u32>,
    ) -> Settled<String> {
        Settled(
            async {
                self.check_open()?;
                let limit = limit.map(|l| l as usize);
                let query = CacheQuery::parse(&read, &ids, limit).map_err(ClientError::from)?;
                self.core()
                    .query_cache(&query)
                    .await
                    .map_err(NodeError::from)
            }
            .await,
        )
    }
}
