//! The cache: the Redis key layout ([`keys`]) written by the state worker and typed reads of it
//! ([`CacheReader`]), each also reachable by name through one entry point ([`CacheQuery`]). The layout is documented for plain Redis clients in `docs/cache.md`.

mod error;
mod fetch;
/// The cache's Redis keys: re-exported from `ddiscord-model`.
pub use ddiscord_model::keyspace::cache as keys;
mod query;
mod reader;
mod text;

pub use error::{CacheError, CacheErrorKind};
pub use keys::Keys;
pub use query::{CACHE_READS, CacheQuery, CacheQueryError, DEFAULT_RECENT_MESSAGES};
pub use reader::{CacheReader, GuildState};
