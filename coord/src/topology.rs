//! The bot's gateway topology, recorded once by ingest and read by everything else.
//!
//! Ingest asks Discord (`GET /gateway/bot`,
//! <https://discord.com/developers/docs/events/gateway#get-gateway-bot>) how many shards to run
//! and how many may IDENTIFY at once, and records the answer in the hash
//! `{prefix}topology`. State workers, consumer groups and SDK clients read it instead of
//! taking a shard count of their own, and follow it when it changes (a re-shard).
//!
//! | field | meaning |
//! |---|---|
//! | `shards` | shard count: the partitions of every consumer group |
//! | `max_concurrency` | IDENTIFYs allowed per 5 s bucket |
//! | `gateway_url` | the gateway URL shards connect to |
//! | `updated_ms` | when it was recorded (Unix ms, Redis server time) |

use std::time::Duration;

use super::error::{CoordError, CoordErrorKind};

use crate::keys::topology_key;

/// What ingest learnt from `GET /gateway/bot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Shard count (at least 1).
    pub shards: u32,
    /// IDENTIFY concurrency (`session_start_limit.max_concurrency`).
    pub max_concurrency: u32,
    /// The gateway URL shards connect to.
    pub gateway_url: String,
}

impl Topology {
    /// Records `self` as the bot's topology (overwriting the previous one).
    ///
    /// # Errors
    /// [`CoordErrorKind::Redis`] when Redis fails; [`CoordErrorKind::InvalidConfig`] for zero
    /// shards.
    pub async fn record<C>(&self, redis: &mut C, prefix: &str) -> Result<(), CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        if self.shards == 0 {
            return Err(CoordError::new(CoordErrorKind::InvalidConfig {
                reason: "a topology needs at least one shard".to_owned(),
            }));
        }
        let (secs, micros): (u64, u64) = redis::cmd("TIME")
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("reading the server time", e))?;
        let now_ms = secs * 1000 + micros / 1000;
        let _: () = redis::cmd("HSET")
            .arg(topology_key(prefix))
            .arg("shards")
            .arg(self.shards)
            .arg("max_concurrency")
            .arg(self.max_concurrency)
            .arg("gateway_url")
            .arg(&self.gateway_url)
            .arg("updated_ms")
            .arg(now_ms)
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("recording the topology", e))?;
        Ok(())
    }

    /// Reads the recorded topology; `None` while no ingest node has recorded one.
    ///
    /// # Errors
    /// [`CoordErrorKind::Redis`] when Redis fails or the hash is malformed.
    pub async fn read<C>(redis: &mut C, prefix: &str) -> Result<Option<Topology>, CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let (shards, max_concurrency, gateway_url): (Option<u32>, Option<u32>, Option<String>) =
            redis::cmd("HMGET")
                .arg(topology_key(prefix))
                .arg("shards")
                .arg("max_concurrency")
                .arg("gateway_url")
                .query_async(redis)
                .await
                .map_err(|e| CoordError::redis("reading the topology", e))?;
        Ok(match shards {
            Some(shards) if shards > 0 => Some(Topology {
                shards,
                max_concurrency: max_concurrency.unwrap_or(1),
                gateway_url: gateway_url.unwrap_or_default(),
            }),
            _ => None,
        })
    }

    /// Waits until a topology is recorded, reading every `poll`; logs once while waiting.
    ///
    /// # Errors
    /// As [`Topology::read`].
    pub async fn wait<C>(
        redis: &mut C,
        prefix: &str,
        poll: Duration,
    ) -> Result<Topology, CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let mut logged = false;
        loop {
            if let Some(t) = Self::read(redis, prefix).await? {
                return Ok(t);
            }
            if !logged {
                logged = true;
                tracing::info!(
                    key = %topology_key(prefix),
                    "waiting for ingest to record the shard count (GET /gateway/bot)"
                );
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// The shard count to run with: the recorded one, checked against an explicit setting.
    ///
    /// # Errors
    /// [`CoordErrorKind::InvalidConfig`] when `explicit` is set and differs from the recorded
    /// count (unset `DDISCORD_SHARDS`, or fix it).
    pub fn check_explicit(&self, explicit: Option<u32>, what: &str) -> Result<u32, CoordError> {
        match explicit {
            Some(n) if n != self.shards => Err(CoordError::new(CoordErrorKind::InvalidConfig {
                reason: format!(
                    "{what} is {n} but ingest recorded {} shards (GET /gateway/bot); unset it or make it match",
                    self.shards
                ),
            })),
            _ => Ok(self.shards),
        }
    }
}
