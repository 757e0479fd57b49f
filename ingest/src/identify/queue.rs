//! A twilight-gateway identify [`Queue`] backed by [`IdentifyLimiter`].

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use twilight_gateway::queue::Queue;

use super::budget::{IdentifyDecision, IdentifyLimiter};

/// How often a refused shard asks again (the budget may have been reset or raised).
const REFUSED_RETRY: Duration = Duration::from_secs(30);

/// What the queue tells its node, for lifecycle events, metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifyNotice {
    /// `shard` was allowed to IDENTIFY; `remaining` is the budget left.
    Allowed {
        /// Shard id.
        shard: u32,
        /// Budget left (`None`: unknown).
        remaining: Option<u64>,
    },
    /// `shard` was refused: the budget is at or below the reserve.
    Refused {
        /// Shard id.
        shard: u32,
        /// Budget left.
        remaining: u64,
        /// The configured reserve.
        reserve: u64,
    },
}

/// Twilight's identify queue, coordinated cluster-wide through Redis.
///
/// A shard that asks is answered when its bucket's 5 s slot is free and the daily budget is
/// above the reserve; below the reserve it is not answered (the shard waits, and a
/// [`IdentifyNotice::Refused`] is sent every 30 s while that lasts).
#[derive(Debug, Clone)]
pub struct RedisQueue {
    limiter: IdentifyLimiter,
    owner: String,
    notices: mpsc::UnboundedSender<IdentifyNotice>,
}

impl RedisQueue {
    /// A queue for the node `owner`; notices go to `notices`.
    pub fn new(
        limiter: IdentifyLimiter,
        owner: impl Into<String>,
        notices: mpsc::UnboundedSender<IdentifyNotice>,
    ) -> Self {
        Self {
            limiter,
            owner: owner.into(),
            notices,
        }
    }

    async fn wait_turn(&self, shard: u32, tx: &mut oneshot::Sender<()>) -> bool {
        loop {
            if tx.is_closed() {
                return false;
            }
            match self.limiter.decide(shard, &self.owner).await {
                Ok(IdentifyDecision::Go { remaining }) => {
                    let _ = self
                        .notices
                        .send(IdentifyNotice::Allowed { shard, remaining });
                    return true;
                }
                Ok(IdentifyDecision::Wait { wait_ms }) => {
                    tracing::debug!(shard, wait_ms, "identify bucket busy; waiting");
                    let jitter = rand::random::<u64>() % 50;
                    tokio::time::sleep(Duration::from_millis(wait_ms + jitter)).await;
                }
                Ok(IdentifyDecision::Refused { remaining }) => {
                    let reserve = self.limiter.reserve();
                    tracing::error!(
                        shard,
                        remaining,
                        reserve,
                        "IDENTIFY refused: the daily session start budget is at the reserve; raise DDISCORD_IDENTIFY_RESERVE only if you accept the risk of a token reset"
                    );
                    let _ = self.notices.send(IdentifyNotice::Refused {
                        shard,
                        remaining,
                        reserve,
                    });
                    tokio::select! {
                        () = tokio::time::sleep(REFUSED_RETRY) => {}
                        () = tx.closed() => return false,
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        shard,
                        error = &e as &dyn std::error::Error,
                        "identify coordination failed in Redis; retrying in 1 s"
                    );
                    metrics::counter!("ddiscord_ingest_identify_coordination_errors_total")
                        .increment(1);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

impl Queue for RedisQueue {
    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let this = self.clone();
        tokio::spawn(async move {
            let mut tx = tx;
            if this.wait_turn(shard, &mut tx).await {
                let _ = tx.send(());
            }
        });
        rx
    }
}
