//! Publishing with guaranteed delivery, in order, with a bounded window.
//!
//! Each dispatch becomes one future that publishes its envelope (QoS 1) and retries with
//! backoff until the broker acknowledges it. The futures complete in read order, so the
//! sequence of the last completed one is a sequence below which everything is on the mesh:
//! that is the sequence persisted for RESUME. While the broker is down the window fills, the
//! shard stops reading, and Discord keeps the rest for the RESUME.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ddiscord::Topic;
use ddiscord::coord::LeaseGuard;
use ddiscord::mesh::{Delivery, Mesh, MeshErrorKind};
use futures::Future;

use crate::metrics::ShardMetrics;

/// Largest backoff between publish attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A dispatch that left the window.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    /// Session the dispatch belongs to.
    pub session: Option<Arc<str>>,
    /// Its sequence.
    pub seq: Option<u64>,
}

/// Why a dispatch left the window without being published.
#[derive(Debug)]
pub(crate) enum PublishFailure {
    /// The lease is no longer valid: stop the shard at once.
    Fenced,
}

pub(crate) type PublishFuture =
    Pin<Box<dyn Future<Output = Result<Done, PublishFailure>> + Send + 'static>>;

/// Publishes one envelope; resolves after the broker's acknowledgement.
pub(crate) fn publish(
    mesh: Mesh,
    guard: LeaseGuard,
    metrics: Arc<ShardMetrics>,
    topic: Topic,
    payload: Bytes,
    done: Done,
) -> PublishFuture {
    Box::pin(async move {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(50);
        loop {
            // Fencing: a node that lost the shard (paused past its TTL, say) publishes nothing.
            if !guard.is_valid() {
                metrics.fenced.increment(1);
                return Err(PublishFailure::Fenced);
            }
            match mesh
                .publish(&topic, payload.clone(), Delivery::Guaranteed)
                .await
            {
                Ok(()) => {
                    metrics.events_out.increment(1);
                    metrics
                        .publish_seconds
                        .record(started.elapsed().as_secs_f64());
                    return Ok(done);
                }
                Err(e) if matches!(e.kind(), MeshErrorKind::PayloadTooLarge { .. }) => {
                    // Retrying cannot help; the event is dropped, loudly.
                    tracing::error!(%topic, error = %e, "dispatch dropped: larger than the mesh accepts; raise the mesh's max payload");
                    metrics::counter!("ddiscord_ingest_dropped_too_large_total").increment(1);
                    return Ok(done);
                }
                Err(e) => {
                    metrics.publish_retries.increment(1);
                    tracing::warn!(%topic, error = %e, backoff_ms = backoff.as_millis() as u64, "publish failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    })
}
