//! # ddiscord-coord
//!
//! Coordination in Redis: partition leases with fencing tokens, and the consumer
//! [`group`]s built on them.
//!
//! Also the bot's recorded gateway [`Topology`], the [`GroupRegistry`] of consumer groups and
//! the [`DeadLetters`] streams.
//!
//! Ingest nodes lease shards (`group = "ingest"`), consumer-group members lease partitions
//! (`group = "group:<name>"`), both through [`Leases`]. Every live node claims up to its fair
//! share `ceil(partitions / live nodes)`, renews every `renew_interval`, and takes over leases
//! whose owner stopped renewing for a TTL. Each grant of a partition carries a fencing token
//! that is strictly greater than every earlier token of that partition, so writes made by a
//! stale owner are refused by a [`Fence`].
//!
//! Key layout: see [`keys`].

mod config;
mod dead;
mod error;
mod fence;
pub mod group;
/// The Redis keys of coordination: re-exported from `ddiscord-model`.
pub use ddiscord_model::keyspace::coord as keys;
mod leases;
mod redis_target;
mod registry;
mod scripts;
mod topology;

pub use config::{DEFAULT_KEY_PREFIX, DEFAULT_TTL, HANDOVER_TIMEOUT, LeaseConfig, default_node_id};
pub use dead::{DEAD_LETTER_MAXLEN, DeadLetter, DeadLetterEntry, DeadLetters};
pub use error::{CoordError, CoordErrorKind};
pub use fence::{FENCED_CODE, Fence, FencedScript};
pub use keys::{dead_letters_key, groups_key, topology_key};
pub use leases::{Lease, LeaseEvent, LeaseGuard, Leases};
pub use redis_target::{
    REDIS_PASSWORD_ENV, REDIS_TLS_ENV_PREFIX, REDIS_URL_ENV, REDIS_USERNAME_ENV, RedisConnectError,
    RedisConnectErrorKind, RedisTarget,
};
pub use registry::{GroupRegistry, RegisteredGroup};
pub use topology::Topology;
