//! # ddiscord
//!
//! The core every DDiscord component links: the topic contract (`topics.yaml`), topics and
//! Solace-syntax subscription patterns, the envelope, and the event mesh client with its
//! backends.
//!
//! `docs/` and `topics.yaml` describe the contracts and the reasons for them.

pub mod cache;
pub mod client;
pub mod contract;
pub mod coord;
pub mod envelope;
pub mod group;
pub mod mesh;
pub mod topic;

pub use client::{Client, ClientConfig, ClientError, Event};
pub use envelope::{Envelope, EnvelopeError, EnvelopeMeta, FrameHead};
pub use topic::{Topic, TopicError, TopicPattern, Topics, shard_for_guild};
