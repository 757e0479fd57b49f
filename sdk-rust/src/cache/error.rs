//! Errors of cache reads.

/// Why a cache read failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Redis could not be reached or refused the command; retry, and check `DDISCORD_REDIS_URL`
    /// and that Redis is up.
    #[error("cache read from Redis failed (check DDISCORD_REDIS_URL and that Redis is up): {0}")]
    Redis(#[from] redis::RedisError),
    /// A value in the cache is not the JSON the key schema documents: the cache was written by
    /// something other than the state worker, or by an incompatible version of it. Flush the
    /// prefix and let the worker refill it.
    #[error("cache value at `{key}` is not the documented JSON shape: {source}")]
    Corrupt {
        /// The key (and hash field, as `key#field`) that held the value.
        key: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}
