//! Consumer groups: members share the partitions (shards) of a dispatch pattern, each
//! partition one persistent at-least-once session on the mesh, claimed through the Redis
//! leases of [`crate`]. The state worker and the SDKs' work queues use them.
//!
//! ```text
//! member A ── leases group:<name> (Redis) ── partitions 0,1 ── sessions <name>-0, <name>-1 ──▶ mesh
//! member B ──                              ── partitions 2,3 ── sessions <name>-2, <name>-3 ──▶
//! ```
//!
//! Why one session per partition and not a shared subscription: Solace downgrades QoS 1 shared
//! subscriptions to QoS 0, and a shared subscription gives up per-guild order.

mod config;
mod error;
mod member;
mod mesh;
mod message;
mod transport;

pub use config::GroupConfig;
pub use error::{GroupError, GroupErrorKind};
pub use member::{ConsumerGroup, dead_letter_topic};
pub use message::GroupMessage;
pub use transport::{Acker, Delivery, DurableSource};
