//! # ddiscord-model
//!
//! What every DDiscord component agrees on, with no I/O: the topic contract (`topics.yaml`,
//! [`contract`]), topics and Solace-syntax subscription patterns ([`topic`]), and the envelope
//! that carries a gateway dispatch on the mesh ([`envelope`]), and the shared
//! [`defaults`]. The simulator links only this
//! crate; the `ddiscord` core re-exports it under the same paths.

pub mod contract;
pub mod defaults;
pub mod envelope;
pub mod keyspace;
pub mod snowflake;
pub mod topic;

pub use envelope::{Envelope, EnvelopeError, EnvelopeErrorKind, EnvelopeMeta, FrameHead};
pub use topic::{Topic, TopicError, TopicPattern, Topics, shard_for_guild};
