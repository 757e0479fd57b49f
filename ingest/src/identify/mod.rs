//! IDENTIFY coordination across the cluster, in Redis.
//!
//! Discord allows one IDENTIFY per `max_concurrency` bucket (`shard_id % max_concurrency`) per
//! 5 s, and `session_start_limit.total` IDENTIFYs per day; exceeding the daily limit resets the
//! token. Source: <https://discord.com/developers/docs/events/gateway#session-start-limit-object>
//! and <https://discord.com/developers/docs/events/gateway#sharding-max-concurrency>.
//!
//! Keys: `{prefix}identify:budget` and `{prefix}identify:bucket:{b}`, named and described in
//! [`ddiscord::keyspace::ingest`].
//!
//! RESUMEs do not go through here: twilight only asks its queue before an IDENTIFY.

mod budget;
mod queue;

pub use budget::{Budget, IdentifyDecision, IdentifyLimiter};
pub use queue::{IdentifyNotice, RedisQueue};
