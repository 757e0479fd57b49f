//! Gateway sessions persisted in Redis, so any node that takes a shard over can RESUME it.
//!
//! Key `{prefix}session:{shard}`, a hash: `session_id`, `sequence` (the last sequence the mesh
//! acknowledged, never one merely received), `resume_url`, `shard_count`, `token` (the fencing
//! token of the lease it was written under), `node`, `updated_ms`.
//!
//! Writes are fenced by the shard's lease ([`ddiscord::coord::Fence`]), so a node that lost its
//! lease (paused past its TTL, say) can never overwrite the new owner's session.
//! Source of the fields: <https://discord.com/developers/docs/events/gateway#resuming>.

use std::sync::LazyLock;

use ddiscord::coord::{CoordError, Fence, FencedScript, Lease};
use redis::aio::ConnectionManager;

/// A resumable gateway session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// `session_id` from READY.
    pub session_id: String,
    /// The last sequence published to the mesh (RESUME replays everything after it).
    pub sequence: u64,
    /// `resume_gateway_url` from READY.
    pub resume_url: Option<String>,
}

static SAVE: LazyLock<FencedScript> = LazyLock::new(|| {
    Fence::script(
        r"
redis.call('HSET', KEYS[2], 'session_id', ARGV[2], 'sequence', ARGV[3], 'resume_url', ARGV[4],
  'shard_count', ARGV[5], 'token', ARGV[1], 'node', ARGV[6], 'updated_ms', ARGV[7])
return 1
",
    )
});

static CLEAR: LazyLock<FencedScript> =
    LazyLock::new(|| Fence::script("redis.call('DEL', KEYS[2]) return 1"));

/// Reads and writes sessions of one bot.
#[derive(Clone)]
pub struct SessionStore {
    redis: ConnectionManager,
    prefix: String,
    group: String,
    shard_count: u32,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("prefix", &self.prefix)
            .field("shard_count", &self.shard_count)
            .finish_non_exhaustive()
    }
}

impl SessionStore {
    /// A store under `prefix`, fenced by leases of `group` (`"ingest"`).
    pub fn new(redis: ConnectionManager, prefix: &str, group: &str, shard_count: u32) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            group: group.to_owned(),
            shard_count,
        }
    }

    /// The key of `shard`'s session.
    pub fn key(&self, shard: u32) -> String {
        ddiscord::keyspace::ingest::session_key(&self.prefix, shard)
    }

    /// The stored session of `shard`, if there is one for the current shard count.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn load(&self, shard: u32) -> Result<Option<StoredSession>, redis::RedisError> {
        let (id, seq, url, count): (Option<String>, Option<u64>, Option<String>, Option<u32>) =
            redis::cmd("HMGET")
                .arg(self.key(shard))
                .arg("session_id")
                .arg("sequence")
                .arg("resume_url")
                .arg("shard_count")
                .query_async(&mut self.redis.clone())
                .await?;
        let (Some(session_id), Some(sequence)) = (id, seq) else {
            return Ok(None);
        };
        if count != Some(self.shard_count) {
            tracing::info!(
                shard,
                stored = ?count,
                now = self.shard_count,
                "stored session was made for another shard count; identifying instead"
            );
            return Ok(None);
        }
        Ok(Some(StoredSession {
            session_id,
            sequence,
            resume_url: url.filter(|u| !u.is_empty()),
        }))
    }

    /// Writes `session` for the lease's shard, only while `lease` is current.
    ///
    /// # Errors
    /// [`CoordError`] that [`CoordError::is_fenced`] when the lease is no longer current;
    /// otherwise Redis errors.
    pub async fn save(
        &self,
        lease: Lease,
        node: &str,
        session: &StoredSession,
    ) -> Result<(), CoordError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        SAVE.invocation(&self.prefix, &self.group, lease)
            .key(self.key(lease.partition))
            .arg(&session.session_id)
            .arg(session.sequence)
            .arg(session.resume_url.as_deref().unwrap_or(""))
            .arg(self.shard_count)
            .arg(node)
            .arg(now_ms.to_string())
            .invoke_async::<i64>(&mut self.redis.clone())
            .await
            .map(|_| ())
            .map_err(|e| coord_err("saving a gateway session", e))
    }

    /// Forgets the lease's shard session (after Discord invalidated it), only while `lease`
    /// is current.
    ///
    /// # Errors
    /// As [`Self::save`].
    pub async fn clear(&self, lease: Lease) -> Result<(), CoordError> {
        CLEAR
            .invocation(&self.prefix, &self.group, lease)
            .key(self.key(lease.partition))
            .invoke_async::<i64>(&mut self.redis.clone())
            .await
            .map(|_| ())
            .map_err(|e| coord_err("clearing a gateway session", e))
    }
}

fn coord_err(context: &'static str, e: redis::RedisError) -> CoordError {
    CoordError::from_redis(context, e)
}
