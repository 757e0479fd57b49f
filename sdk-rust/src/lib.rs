//! # ddiscord
//!
//! The client scripts use, and the only crate the Python and Node bindings link: subscribe to
//! patterns, consume work queues, read the cache, send gateway commands ([`Client`]), and the
//! typed cache reader ([`cache`]). It re-exports the crates below it under stable paths:
//!
//! | path | crate | what |
//! |---|---|---|
//! | [`topic`], [`envelope`], [`contract`], [`model_defaults`] | `ddiscord-model` | the data model, no I/O |
//! | [`mesh`] | `ddiscord-mesh` | the event mesh client and its backends |
//! | [`coord`], [`group`] | `ddiscord-coord` | leases, topology, dead letters, consumer groups in Redis |
//!
//! `docs/` and `topics.yaml` describe the contracts and the reasons for them.

pub mod cache;
pub mod client;
pub mod rest;
pub mod runtime;

/// Coordination in Redis: re-exported from `ddiscord-coord`.
pub use ddiscord_coord as coord;
/// Consumer groups: re-exported from `ddiscord-coord`.
pub use ddiscord_coord::group;
/// The event mesh client: re-exported from `ddiscord-mesh`.
pub use ddiscord_mesh as mesh;

/// The topic contract (`topics.yaml`): re-exported from `ddiscord-model`.
pub use ddiscord_model::contract;
/// The shared defaults (key prefix, Redis and mesh URLs): re-exported from `ddiscord-model`.
pub use ddiscord_model::defaults as model_defaults;
/// The envelope: re-exported from `ddiscord-model`.
pub use ddiscord_model::envelope;
/// Every Redis key: re-exported from `ddiscord-model`.
pub use ddiscord_model::keyspace;
/// Snowflakes (Discord ids) and their one parsing rule: re-exported from `ddiscord-model`.
pub use ddiscord_model::snowflake;
/// Topics and patterns: re-exported from `ddiscord-model`.
pub use ddiscord_model::topic;

pub use client::{Client, ClientConfig, ClientError, ERROR_KINDS, ErrorKind, Event};
pub use envelope::{Envelope, EnvelopeError, EnvelopeMeta, FrameHead};
pub use rest::{Rest, RestConfig, RestError, RestErrorKind};
pub use topic::{Topic, TopicError, TopicPattern, Topics, shard_for_guild};
