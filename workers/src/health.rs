//! The state worker's readiness: what `/readyz` (served by `ddiscord-ops`) reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ddiscord_ops::NotReady;
use redis::aio::ConnectionManager;

/// Whether a state worker can take traffic: it has joined its consumer group and Redis
/// answers PING. Cheap to clone; each clone reports the same worker.
#[derive(Clone)]
pub struct Readiness {
    joined: Arc<AtomicBool>,
    redis: ConnectionManager,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("joined", &self.joined.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Readiness {
    pub(crate) fn new(joined: Arc<AtomicBool>, redis: ConnectionManager) -> Self {
        Self { joined, redis }
    }

    /// `Ok` when the worker is in its consumer group and Redis answers PING; else why not.
    pub async fn check(&self) -> Result<(), NotReady> {
        if !self.joined.load(Ordering::Relaxed) {
            return Err("state worker: joining the consumer group".into());
        }
        let pong: Result<String, _> = redis::cmd("PING")
            .query_async(&mut self.redis.clone())
            .await;
        match pong {
            Ok(_) => Ok(()),
            Err(_) => Err("state worker: redis unreachable".into()),
        }
    }
}
