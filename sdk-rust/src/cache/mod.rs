//! The cache: the Redis key layout ([`keys`]) written by the state worker and typed reads of it
//! ([`CacheReader`]). The layout is documented for plain Redis clients in `docs/cache.md`.

mod error;
/// The cache's Redis keys: re-exported from `ddiscord-model`.
pub use ddiscord_model::keyspace::cache as keys;
mod reader;

pub use error::CacheError;
pub use keys::Keys;
pub use reader::{CacheReader, GuildState};
