//! The atomic "may this shard IDENTIFY now?" decision.

use std::sync::LazyLock;

use ddiscord::keyspace::ingest::{identify_bucket_key, identify_budget_key};
use redis::Script;
use redis::aio::ConnectionManager;

use crate::gateway_info::GatewayInfo;

/// Minimum spacing of IDENTIFYs in one bucket, in ms.
pub const IDENTIFY_WINDOW_MS: u64 = 5_000;

/// KEYS: `[budget, bucket]`; ARGV: `[reserve, owner, window_ms]`.
/// Returns `{1, remaining_after}` (go), `{0, wait_ms}` (bucket busy), `{-1, remaining}`
/// (refused: at or below the reserve). Remaining is -1 when the budget is unknown.
static DECIDE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local reserve = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'total', 'remaining', 'reset_at_ms')
local known = b[1] ~= false and b[2] ~= false
local remaining = -1
if known then
  remaining = tonumber(b[2])
  if b[3] and now >= tonumber(b[3]) then
    remaining = tonumber(b[1])
    redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at_ms', now + 86400000)
  end
  if remaining <= reserve then
    return {-1, remaining}
  end
end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
  local wait = redis.call('PTTL', KEYS[2])
  if wait < 0 then wait = 50 end
  return {0, wait}
end
if known then
  remaining = redis.call('HINCRBY', KEYS[1], 'remaining', -1)
end
return {1, remaining}
",
    )
});

/// The outcome of [`IdentifyLimiter::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifyDecision {
    /// IDENTIFY now; the budget has `remaining` left afterwards (`None`: unknown).
    Go {
        /// IDENTIFYs left in the daily budget.
        remaining: Option<u64>,
    },
    /// Another shard of the bucket identified less than 5 s ago; ask again after `wait_ms`.
    Wait {
        /// ms until the bucket frees.
        wait_ms: u64,
    },
    /// The budget is at or below the reserve: do not IDENTIFY.
    Refused {
        /// IDENTIFYs left in the daily budget.
        remaining: u64,
    },
}

/// The daily IDENTIFY budget as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// IDENTIFYs per day.
    pub total: u64,
    /// IDENTIFYs left.
    pub remaining: u64,
}

/// Shared IDENTIFY limits of one bot token.
#[derive(Clone)]
pub struct IdentifyLimiter {
    redis: ConnectionManager,
    prefix: String,
    max_concurrency: u32,
    reserve: u64,
}

impl std::fmt::Debug for IdentifyLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentifyLimiter")
            .field("prefix", &self.prefix)
            .field("max_concurrency", &self.max_concurrency)
            .field("reserve", &self.reserve)
            .finish_non_exhaustive()
    }
}

impl IdentifyLimiter {
    /// A limiter over the keys under `prefix`; `reserve` IDENTIFYs of the daily budget are
    /// never spent (kept for a human to recover with).
    pub fn new(redis: ConnectionManager, prefix: &str, max_concurrency: u32, reserve: u64) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            max_concurrency: max_concurrency.max(1),
            reserve,
        }
    }

    fn budget_key(&self) -> String {
        identify_budget_key(&self.prefix)
    }

    /// Stores what `GET /gateway/bot` said (Discord's count is the truth; it includes
    /// IDENTIFYs made by anything else with the token).
    ///
    /// # Errors
    /// Redis errors.
    pub async fn record_gateway_info(&self, info: &GatewayInfo) -> Result<(), redis::RedisError> {
        let script = Script::new(
            r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'remaining', ARGV[2], 'reset_at_ms', now + tonumber(ARGV[3]))
return 1
",
        );
        let _: i64 = script
            .key(self.budget_key())
            .arg(info.total)
            .arg(info.remaining)
            .arg(info.reset_after_ms)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// The stored budget, if any.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn budget(&self) -> Result<Option<Budget>, redis::RedisError> {
        let (total, remaining): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.budget_key())
            .arg("total")
            .arg("remaining")
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(total
            .zip(remaining)
            .map(|(total, remaining)| Budget { total, remaining }))
    }

    /// The IDENTIFY reserve.
    pub fn reserve(&self) -> u64 {
        self.reserve
    }

    /// Decides atomically whether `shard` may IDENTIFY now, and if so takes its bucket's 5 s
    /// slot and one unit of the budget.
    ///
    /// # Errors
    /// Redis errors (the caller retries).
    pub async fn decide(
        &self,
        shard: u32,
        owner: &str,
    ) -> Result<IdentifyDecision, redis::RedisError> {
        let bucket = shard % self.max_concurrency;
        let (status, value): (i64, i64) = DECIDE
            .key(self.budget_key())
            .key(identify_bucket_key(&self.prefix, bucket))
            .arg(self.reserve)
            .arg(format!("{owner}:{shard}"))
            .arg(IDENTIFY_WINDOW_MS)
            .invoke_async(&mut self.redis.clone())
            .await?;
        let value_u = u64::try_from(value).ok();
        Ok(match status {
            1 => IdentifyDecision::Go { remaining: value_u },
            0 => IdentifyDecision::Wait {
                wait_ms: value_u.unwrap_or(50).max(1),
            },
            _ => IdentifyDecision::Refused {
                remaining: value_u.unwrap_or(0),
            },
        })
    }
}
