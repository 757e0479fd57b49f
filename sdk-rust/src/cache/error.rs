//! Errors of cache reads: a kind that says what went wrong, plus its source.

use std::error::Error as StdError;
use std::fmt;

/// Why a cache read failed: match on [`CacheError::kind`]; the [`source`](StdError::source) is
/// the Redis or JSON error.
#[derive(Debug)]
pub struct CacheError {
    kind: CacheErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What went wrong with a cache read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheErrorKind {
    /// Redis could not be reached or refused the command; retry, and check
    /// `DDISCORD_REDIS_URL` and that Redis is up.
    Redis,
    /// A value in the cache is not the JSON the key schema documents: the cache was written by
    /// something other than the state worker, or by an incompatible version of it. Flush the
    /// prefix and let the worker refill it.
    Corrupt {
        /// The key (and hash field, as `key#field`) that held the value.
        key: String,
    },
    /// A value read could not be encoded as JSON again (a bug).
    Encode,
}

impl CacheError {
    /// A Redis failure.
    pub fn redis(source: redis::RedisError) -> Self {
        Self {
            kind: CacheErrorKind::Redis,
            source: Some(Box::new(source)),
        }
    }

    /// A value at `key` that is not the documented JSON.
    pub fn corrupt(key: impl Into<String>, source: serde_json::Error) -> Self {
        Self {
            kind: CacheErrorKind::Corrupt { key: key.into() },
            source: Some(Box::new(source)),
        }
    }

    /// A value that could not be encoded as JSON.
    pub fn encode(source: serde_json::Error) -> Self {
        Self {
            kind: CacheErrorKind::Encode,
            source: Some(Box::new(source)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &CacheErrorKind {
        &self.kind
    }

    /// Splits the error into its kind and source.
    pub fn into_parts(self) -> (CacheErrorKind, Option<Box<dyn StdError + Send + Sync>>) {
        (self.kind, self.source)
    }
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CacheErrorKind::Redis => f.write_str(
                "cache read from Redis failed (check DDISCORD_REDIS_URL and that Redis is up)",
            ),
            CacheErrorKind::Corrupt { key } => {
                write!(f, "cache value at `{key}` is not the documented JSON shape")
            }
            CacheErrorKind::Encode => f.write_str("encoding a cached value as JSON failed"),
        }?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for CacheError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl From<redis::RedisError> for CacheError {
    fn from(e: redis::RedisError) -> Self {
        Self::redis(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_names_the_key_and_keeps_the_source() {
        let json = serde_json::from_str::<u8>("x").expect_err("`x` is not JSON");
        let e = CacheError::corrupt("dd:user:1", json);
        assert_eq!(
            e.kind(),
            &CacheErrorKind::Corrupt {
                key: "dd:user:1".into()
            }
        );
        assert!(e.to_string().contains("dd:user:1"), "{e}");
        assert!(e.source().is_some());
    }
}
