//! # ddiscord-ingest
//!
//! The ingest node: twilight-gateway shards, claimed through Redis leases, publishing every
//! dispatch to the event mesh.
//!
//! ```text
//!            ┌──────────── node ────────────┐
//! Discord ──▶│ shard runner (per leased shard)│──publish (guaranteed)──▶ mesh  discord/<shard>/<guild>/<EVENT>
//!            │   ▲ identify queue (Redis)     │◀─subscribe── discord-cmd/<shard>/<COMMAND>
//!            │   ▲ session store (Redis, fenced)──▶ discord-lifecycle/<shard>/<EVENT>
//!            │ leases (ddiscord::coord)       │
//!            └────────────────────────────────┘
//! ```
//!
//! - [`identify`]: one IDENTIFY per `max_concurrency` bucket per 5 s across the cluster, and the
//!   daily budget with a reserve that is never spent.
//! - [`session`]: session id, acknowledged sequence and resume URL in Redis, written under the
//!   shard's lease (fenced), so any node resumes a shard it takes over.
//! - [`command`]: validation of gateway commands from the mesh.
//!
//! Use [`run`] with [`IngestArgs`] (the `ddiscord ingest` subcommand) or [`IngestNode::start`].

pub mod command;
mod config;
mod error;
pub mod gateway_info;
mod groups;
pub mod identify;
pub mod lifecycle;
mod metrics;
mod node;
mod run;
pub mod session;
mod shard;

pub use config::{
    DEFAULT_GROUP, DEFAULT_INTENTS, DEFAULT_MAX_PAYLOAD_BYTES, IngestArgs, IngestConfig,
};
pub use error::{IngestError, IngestErrorKind};
pub use lifecycle::LifecycleEvent;
pub use node::{IngestNode, LEASE_GROUP, NodeStatus, SHUTDOWN_TIMEOUT};
pub use run::run;
