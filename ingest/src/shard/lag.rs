//! Flow control from the cache back to the gateway read: with
//! [`IngestConfig::max_cache_lag`](crate::IngestConfig::max_cache_lag) set, a shard stops reading
//! while the state worker is more than that many dispatches behind it.
//!
//! MQTT has no flow control from a subscriber back to a publisher: when the state worker is
//! slower than the gateway, the broker's queue for it grows (Mosquitto up to
//! `max_queued_messages`, then it drops; the embedded broker in memory). With the gate, the
//! backlog stays where Discord keeps it (its send buffer, then the RESUME buffer), the broker's
//! queues stay bounded by the lag, and the state worker works at its capacity.
//!
//! The lag is the sequence of the last dispatch the shard read minus the sequence the cache
//! applied (`shard:<s>` in Redis, written by the state worker's projection), of the same
//! session; a session the cache has not seen yet counts from 0. It is read every 100 ms, so a
//! shard reads at most about `max_cache_lag` plus 100 ms of dispatches ahead of the cache.
//!
//! A shard that does not read sends no heartbeat either (twilight sends them while it is
//! polled), and Discord closes a connection that misses one
//! (<https://discord.com/developers/docs/events/gateway#sending-heartbeats>). So a pause lasts at
//! most [`MAX_PAUSE`]: a state worker that is stopped or far behind then no longer holds the
//! shard (logged), until the lag is back under the limit.

use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

/// Longest wait for the cache's position; past it the gate opens for this round.
const READ_TIMEOUT: Duration = Duration::from_millis(250);

/// Longest pause of the gateway read, well under Discord's heartbeat interval (41.25 s).
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(15);

/// The gate of one shard.
pub(crate) struct CacheGate {
    key: String,
    max: u64,
    lag: u64,
    paused: bool,
    /// When the current pause began.
    since: Option<Instant>,
    /// The last pause outlived [`MAX_PAUSE`]: read on until the lag is under the limit.
    overridden: bool,
}

impl CacheGate {
    /// A gate on the cache's `shard:<s>` hash (`key`) holding the shard `max` dispatches ahead
    /// at most.
    pub(crate) fn new(key: String, max: u64) -> Self {
        Self {
            key,
            max,
            lag: 0,
            paused: false,
            since: None,
            overridden: false,
        }
    }

    /// Whether the shard may read now.
    pub(crate) fn open(&self) -> bool {
        !self.paused
    }

    /// The lag measured last, in dispatches.
    pub(crate) fn lag(&self) -> u64 {
        self.lag
    }

    /// Whether the last pause outlived [`MAX_PAUSE`] and the shard reads on regardless.
    pub(crate) fn overridden(&self) -> bool {
        self.overridden
    }

    /// Reads the cache's position and decides; returns `Some(paused)` when the gate changed.
    /// A Redis error or a read slower than 250 ms opens the gate (the lag is unknown; the
    /// broker's queue takes the slack).
    pub(crate) async fn refresh(
        &mut self,
        redis: &mut ConnectionManager,
        session: Option<&str>,
        read_seq: u64,
    ) -> Option<bool> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(&self.key).arg("session").arg("seq");
        let read = cmd.query_async::<(Option<String>, Option<u64>)>(redis);
        // The shard loop waits for this read: a slow Redis must not hold the gateway read.
        self.lag = match tokio::time::timeout(READ_TIMEOUT, read).await {
            Ok(Ok((cached, seq))) if cached.is_some() && cached.as_deref() == session => {
                read_seq.saturating_sub(seq.unwrap_or(0))
            }
            Ok(Ok(_)) => read_seq,
            Ok(Err(e)) => {
                tracing::debug!(
                    error = &e as &dyn std::error::Error,
                    "could not read the cache's position; reading on"
                );
                0
            }
            Err(_) => {
                tracing::debug!(
                    timeout_ms = READ_TIMEOUT.as_millis() as u64,
                    "reading the cache's position timed out; reading on"
                );
                0
            }
        };
        let behind = self.lag > self.max;
        if !behind {
            self.overridden = false;
        } else if self.since.is_some_and(|t| t.elapsed() >= MAX_PAUSE) {
            self.overridden = true;
        }
        let paused = behind && !self.overridden;
        self.since = if paused {
            self.since.or_else(|| Some(Instant::now()))
        } else {
            None
        };
        (paused != self.paused).then(|| {
            self.paused = paused;
            paused
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ddiscord_testkit::RedisServer;

    async fn gate_on_private_redis() -> (RedisServer, ConnectionManager, CacheGate) {
        let server = RedisServer::start().unwrap();
        let client = redis::Client::open(server.url()).unwrap();
        let conn = ConnectionManager::new(client).await.unwrap();
        (server, conn, CacheGate::new("dd:shard:0".to_owned(), 100))
    }

    async fn cache_at(conn: &mut ConnectionManager, session: &str, seq: u64) {
        let _: () = redis::cmd("HSET")
            .arg("dd:shard:0")
            .arg("session")
            .arg(session)
            .arg("seq")
            .arg(seq)
            .query_async(conn)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_gate_closes_past_the_limit_and_opens_when_the_cache_catches_up() {
        let (_server, mut conn, mut gate) = gate_on_private_redis().await;
        cache_at(&mut conn, "s1", 50).await;
        assert_eq!(gate.refresh(&mut conn, Some("s1"), 150).await, None);
        assert!(gate.open());
        assert_eq!(gate.lag(), 100);
        assert_eq!(gate.refresh(&mut conn, Some("s1"), 151).await, Some(true));
        assert!(!gate.open());
        cache_at(&mut conn, "s1", 140).await;
        assert_eq!(gate.refresh(&mut conn, Some("s1"), 151).await, Some(false));
        assert!(gate.open() && !gate.overridden());
    }

    #[tokio::test]
    async fn a_session_the_cache_has_not_seen_counts_from_zero() {
        let (_server, mut conn, mut gate) = gate_on_private_redis().await;
        cache_at(&mut conn, "old", 10_000).await;
        assert_eq!(gate.refresh(&mut conn, Some("new"), 101).await, Some(true));
        assert_eq!(gate.lag(), 101);
    }

    #[tokio::test]
    async fn an_unreachable_cache_opens_the_gate() {
        let (server, mut conn, mut gate) = gate_on_private_redis().await;
        assert_eq!(gate.refresh(&mut conn, Some("s1"), 500).await, Some(true));
        drop(server);
        assert_eq!(gate.refresh(&mut conn, Some("s1"), 500).await, Some(false));
        assert!(gate.open());
    }
}
