//! Dead letters: messages a component gave up on, kept in Redis for inspection and replay.
//!
//! One Redis stream per group, `{prefix}dead:{group}` (ingest uses the group `ingest`, consumer
//! groups their own name), capped with `XADD … MAXLEN ~ 10000`
//! (<https://redis.io/docs/latest/commands/xadd/>): the oldest entries go once it is over about
//! [`DEAD_LETTER_MAXLEN`]. Each entry has the fields
//!
//! | field | contents |
//! |---|---|
//! | `topic` | the topic the message was (to be) published on |
//! | `payload` | the message bytes (for dispatches, the envelope) |
//! | `reason` | why it was given up on, a stable snake_case name (`not_authorized`, `payload_too_large`, ...) |
//! | `shard` | the shard (partition) it belongs to |
//! | `at_ms` | when it was recorded, Unix ms |
//!
//! The stream id (`<ms>-<n>`) identifies an entry for [`DeadLetters::delete`].

use bytes::Bytes;

use super::error::CoordError;

/// Approximate length cap of each dead-letter stream (`MAXLEN ~`).
pub const DEAD_LETTER_MAXLEN: usize = 10_000;

use crate::keys::dead_letters_key;

/// A message given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The topic it was (to be) published on.
    pub topic: String,
    /// The message bytes (for dispatches, the envelope).
    pub payload: Bytes,
    /// Why, as a stable snake_case name.
    pub reason: String,
    /// The shard (partition) it belongs to.
    pub shard: u32,
    /// When it was recorded, Unix time in ms.
    pub at_ms: u64,
}

/// A recorded [`DeadLetter`] with its stream id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterEntry {
    /// The stream entry id (`<ms>-<n>`), for [`DeadLetters::delete`].
    pub id: String,
    /// The dead letter.
    pub letter: DeadLetter,
}

/// The dead-letter streams in Redis (see the module docs for the layout).
#[derive(Debug, Clone, Copy)]
pub struct DeadLetters;

impl DeadLetters {
    /// Appends `letter` to the stream of `group`; returns its stream id.
    ///
    /// # Errors
    /// [`super::CoordErrorKind::Redis`] when Redis fails (retrying is safe but may record the
    /// letter twice).
    pub async fn record<C>(
        redis: &mut C,
        prefix: &str,
        group: &str,
        letter: &DeadLetter,
    ) -> Result<String, CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        redis::cmd("XADD")
            .arg(dead_letters_key(prefix, group))
            .arg("MAXLEN")
            .arg("~")
            .arg(DEAD_LETTER_MAXLEN)
            .arg("*")
            .arg("topic")
            .arg(&letter.topic)
            .arg("payload")
            .arg(letter.payload.as_ref())
            .arg("reason")
            .arg(&letter.reason)
            .arg("shard")
            .arg(letter.shard)
            .arg("at_ms")
            .arg(letter.at_ms)
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("recording a dead letter", e))
    }

    /// The oldest `count` dead letters of `group`, oldest first. Entries with a missing or
    /// unreadable field are returned with defaults (empty strings, 0) rather than skipped.
    ///
    /// # Errors
    /// [`super::CoordErrorKind::Redis`] when Redis fails.
    pub async fn list<C>(
        redis: &mut C,
        prefix: &str,
        group: &str,
        count: usize,
    ) -> Result<Vec<DeadLetterEntry>, CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        type Fields = Vec<(String, Vec<u8>)>;
        let entries: Vec<(String, Fields)> = redis::cmd("XRANGE")
            .arg(dead_letters_key(prefix, group))
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("reading dead letters", e))?;
        Ok(entries
            .into_iter()
            .map(|(id, fields)| {
                let mut letter = DeadLetter {
                    topic: String::new(),
                    payload: Bytes::new(),
                    reason: String::new(),
                    shard: 0,
                    at_ms: 0,
                };
                for (name, value) in fields {
                    let text = || String::from_utf8_lossy(&value).into_owned();
                    match name.as_str() {
                        "topic" => letter.topic = text(),
                        "payload" => letter.payload = Bytes::from(value),
                        "reason" => letter.reason = text(),
                        "shard" => letter.shard = text().parse().unwrap_or(0),
                        "at_ms" => letter.at_ms = text().parse().unwrap_or(0),
                        _ => {}
                    }
                }
                DeadLetterEntry { id, letter }
            })
            .collect())
    }

    /// Deletes entry `id` of `group` (after a replay); returns whether it existed.
    ///
    /// # Errors
    /// [`super::CoordErrorKind::Redis`] when Redis fails or `id` is not a stream id.
    pub async fn delete<C>(
        redis: &mut C,
        prefix: &str,
        group: &str,
        id: &str,
    ) -> Result<bool, CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let n: u64 = redis::cmd("XDEL")
            .arg(dead_letters_key(prefix, group))
            .arg(id)
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("deleting a dead letter", e))?;
        Ok(n > 0)
    }
}
