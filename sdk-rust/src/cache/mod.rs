//! The cache: the Redis key layout ([`keys`]) written by the state worker and typed reads of it
//! ([`CacheReader`]). The layout is documented for plain Redis clients in `docs/cache.md`.

mod error;
pub mod keys;
mod reader;

pub use error::{CacheError, CacheErrorKind};
pub use keys::Keys;
pub use reader::{CacheReader, GuildState};
