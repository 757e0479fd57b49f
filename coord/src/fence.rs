//! Fencing: writes that apply only while the lease they are made under is current.
//!
//! A node that was paused (GC, SIGSTOP, a slow disk) past its lease's TTL may wake up and write
//! as if it still owned the partition. Every write that must not come from a stale owner is a
//! Lua script that first compares the partition's stored fencing token with the writer's
//! (the pattern of Kleppmann's "How to do distributed locking", 2016).

use redis::Script;
use redis::aio::ConnectionLike;

pub use super::error::FENCED_CODE;
use super::error::{CoordError, is_fenced_reply};
use super::keys;
use super::leases::Lease;

const CHECK: &str = r"
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return redis.error_reply('DDFENCED lease token ' .. ARGV[1] .. ' is no longer current')
end
";

/// Helpers for fenced writes.
#[derive(Debug, Clone, Copy)]
pub struct Fence;

impl Fence {
    /// The key a fence checks: the lease hash of `partition` in `group`.
    pub fn key(prefix: &str, group: &str, partition: u32) -> String {
        keys::lease_key(prefix, group, partition)
    }

    /// Builds a fenced script from a Lua body.
    ///
    /// The check takes `KEYS[1]` (the fence key) and `ARGV[1]` (the token), so the body's own
    /// keys start at `KEYS[2]` and its arguments at `ARGV[2]`. Invoke it with
    /// [`FencedScript::invocation`], then add the body's keys and arguments. When the lease is
    /// no longer current the script replies with a `DDFENCED` error and the body does not run;
    /// [`Fence::is_fenced_error`] recognises it and [`CoordError::is_fenced`] is true after
    /// conversion.
    pub fn script(body: &str) -> FencedScript {
        FencedScript {
            script: Script::new(&format!("{CHECK}\n{body}")),
        }
    }

    /// Whether `lease` is still the current lease of its partition (one `HGET`).
    ///
    /// # Errors
    /// [`CoordError`] when Redis fails.
    pub async fn is_current<C: ConnectionLike>(
        conn: &mut C,
        prefix: &str,
        group: &str,
        lease: Lease,
    ) -> Result<bool, CoordError> {
        let token: Option<String> = redis::cmd("HGET")
            .arg(Self::key(prefix, group, lease.partition))
            .arg("token")
            .query_async(conn)
            .await
            .map_err(|e| CoordError::redis("checking a fence", e))?;
        Ok(token.as_deref() == Some(lease.token.to_string().as_str()))
    }

    /// Whether a Redis error is the reply of a fenced script whose lease was not current.
    pub fn is_fenced_error(err: &redis::RedisError) -> bool {
        is_fenced_reply(err)
    }
}

/// A Lua script whose body runs only while a lease is current; see [`Fence::script`].
#[derive(Debug, Clone)]
pub struct FencedScript {
    script: Script,
}

impl FencedScript {
    /// An invocation with the fence's key and token filled in; add the body's keys and
    /// arguments, then `invoke_async`.
    pub fn invocation(
        &self,
        prefix: &str,
        group: &str,
        lease: Lease,
    ) -> redis::ScriptInvocation<'_> {
        let mut inv = self.script.key(Fence::key(prefix, group, lease.partition));
        inv.arg(lease.token.to_string());
        inv
    }
}
