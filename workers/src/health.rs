//! The state worker's readiness: what `/readyz` (served by `ddiscord-ops`) reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ddiscord_ops::NotReady;
use redis::aio::ConnectionManager;

/// Whether a state worker can take traffic: it has joined its consumer group, its mesh
/// connection is up and Redis answers PING. Cheap to clone; each clone reports the same
/// worker.
#[derive(Clone)]
pub struct Readiness {
    joined: Arc<AtomicBool>,
    redis: ConnectionManager,
    mesh_connected: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("joined", &self.joined.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Readiness {
    pub(crate) fn new(
        joined: Arc<AtomicBool>,
        redis: ConnectionManager,
        mesh_connected: Arc<dyn Fn() -> bool + Send + Sync>,
    ) -> Self {
        Self {
            joined,
            redis,
            mesh_connected,
        }
    }

    /// `Ok` when the worker is in its consumer group, the mesh is connected and Redis answers
    /// PING (within 1 s); else why not.
    pub async fn check(&self) -> Result<(), NotReady> {
        if !self.joined.load(Ordering::Relaxed) {
            return Err("state worker: joining the consumer group (waiting for the shard count ingest records?)".into());
        }
        if !(self.mesh_connected)() {
            return Err("state worker: event mesh disconnected (reconnecting)".into());
        }
        let mut conn = self.redis.clone();
        let ping = redis::cmd("PING");
        let pong = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            ping.query_async::<String>(&mut conn),
        )
        .await;
        match pong {
            Ok(Ok(_)) => Ok(()),
            _ => Err("state worker: redis unreachable".into()),
        }
    }
}
