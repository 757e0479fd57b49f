//! The Redis keys of the REST rate limits every process of a bot shares (`ddiscord::rest`).
//! `{bot}` is derived from the token (the first 16 hex digits of its SHA-256), never the token
//! itself; every key below starts with [`bot_prefix`], `{prefix}rest:{bot}:`.
//!
//! | key | type | contents |
//! |---|---|---|
//! | `…route:{route}` | string, expires after a day | the bucket Discord named for the route (`X-RateLimit-Bucket`) |
//! | `…bucket:{bucket}:{major}` | hash, expires a minute after its reset | `limit`, `remaining`, `reset_at` (Redis server time, ms) of one bucket and major parameter |
//! | `…bucket:{bucket}:{major}:probe` | string, expires after the probe timeout | the request that learns a bucket's window while no other may go |
//! | `…global` | sorted set, expires after the global window | the requests of the last global window, scored by send time (ms) |
//! | `…global-until` | string, expires with it | ms (Redis server time) until which a global 429 holds every request |
//! | `…invalid` | sorted set, expires 10 minutes after its last change | responses 401, 403 and 429 of the last 10 minutes, scored by time (ms) |
//!
//! The scripts that read and write them build the keys from [`bot_prefix`] in Lua, so one
//! script call sees a bot's buckets and global limit at once (a single Redis, not a cluster).

/// Prefix of every REST rate-limit key of bot `bot` (`{prefix}rest:{bot}:`).
pub fn bot_prefix(prefix: &str, bot: &str) -> String {
    format!("{prefix}rest:{bot}:")
}
