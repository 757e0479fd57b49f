//! Every Redis key DDiscord uses, named in one place. Each key starts with a configurable
//! prefix ([`crate::defaults::KEY_PREFIX`], `dd:`), so several bots can share one Redis.
//!
//! - [`cache`]: what the state worker projects and the SDKs read (documented for plain Redis
//!   clients in `docs/cache.md`);
//! - [`coord`]: leases and fencing tokens, consumer groups' delivery counts and registry, the
//!   recorded topology, dead letters;
//! - [`ingest`]: gateway sessions and the IDENTIFY budget;
//! - [`rest`]: the REST rate limits shared by every process of a bot.

pub mod cache;
pub mod coord;
pub mod ingest;
pub mod rest;
