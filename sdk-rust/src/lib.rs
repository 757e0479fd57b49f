//! # ddiscord
//!
//! The core every DDiscord component links: the event mesh client with its backends,
//! coordination in Redis (leases, topology, consumer groups), the cache reader and the client
//! the SDKs wrap. The data model (topic contract, topics and patterns, the envelope) lives in
//! `ddiscord-model` and is re-exported here under the same paths.
//!
//! `docs/` and `topics.yaml` describe the contracts and the reasons for them.

pub mod cache;
pub mod client;
pub mod coord;
pub mod group;
pub mod mesh;

/// The topic contract (`topics.yaml`): re-exported from `ddiscord-model`.
pub use ddiscord_model::contract;
/// The shared defaults (key prefix, Redis and mesh URLs): re-exported from `ddiscord-model`.
pub use ddiscord_model::defaults as model_defaults;
/// The envelope: re-exported from `ddiscord-model`.
pub use ddiscord_model::envelope;
/// Snowflakes (Discord ids) and their one parsing rule: re-exported from `ddiscord-model`.
pub use ddiscord_model::snowflake;
/// Topics and patterns: re-exported from `ddiscord-model`.
pub use ddiscord_model::topic;

pub use client::{Client, ClientConfig, ClientError, ERROR_KINDS, ErrorKind, Event};
pub use envelope::{Envelope, EnvelopeError, EnvelopeMeta, FrameHead};
pub use topic::{Topic, TopicError, TopicPattern, Topics, shard_for_guild};
