//! Publishing with guaranteed delivery, in read order, with a bounded window.
//!
//! Each dispatch is queued on the mesh connection with [`Mesh::publish_queued`] before the next
//! one is read, so the broker receives a shard's dispatches in the order they were read (and
//! delivers them to every subscriber and durable session in that order). What stays in the
//! window is the acknowledgement: one future per dispatch that waits for the broker's PUBACK.
//! The futures complete in read order, so the sequence of the last completed one is a sequence
//! below which everything is on the mesh: that is the sequence persisted for RESUME. While the
//! broker is down the window fills, the shard stops reading, and Discord keeps the rest for the
//! RESUME.
//!
//! A refusal the broker will repeat (MQTT 5 PUBACK 0x87, 0x90, 0x95, 0x99, or a payload over
//! our own limit) is not retried: the envelope goes to the dead-letter stream
//! `{prefix}dead:ingest` with the reason, a `PUBLISH_REFUSED` lifecycle event and
//! `ddiscord_ingest_publish_refused_total{reason}`, and the shard goes on. Anything else is
//! retried with backoff (a retry may overtake later dispatches; the state worker orders by
//! sequence).

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ddiscord::Topic;
use ddiscord::coord::{DeadLetter, DeadLetters, LeaseGuard};
use ddiscord::mesh::{Delivery, MeshError, PublishAck};
use futures::Future;
use serde_json::json;

use super::ctx::ShardCtx;
use crate::lifecycle::{LifecycleEvent, now_ms};
use crate::metrics::{self, ShardMetrics};

/// Largest backoff between publish attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Attempts at writing a dead letter before giving up on it (with an error log).
const DEAD_LETTER_ATTEMPTS: u32 = 5;
/// The dead-letter group of ingest: the stream `{prefix}dead:ingest` and the topic
/// `<root>-dead/ingest/<shard>`.
pub(crate) const DEAD_LETTER_GROUP: &str = "ingest";

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

/// A dispatch read from the gateway, ready to be published.
pub(crate) struct Outgoing {
    pub topic: Topic,
    pub payload: Bytes,
    pub done: Done,
}

pub(crate) type PublishFuture =
    Pin<Box<dyn Future<Output = Result<Done, PublishFailure>> + Send + 'static>>;

/// Queues `out` on the mesh (returns once it is queued, behind everything queued before) and
/// returns the future that waits for its acknowledgement, retries transient failures and
/// dead-letters permanent refusals.
pub(crate) async fn queue(
    ctx: Arc<ShardCtx>,
    guard: LeaseGuard,
    metrics: Arc<ShardMetrics>,
    out: Outgoing,
) -> PublishFuture {
    let started = Instant::now();
    let first = ctx
        .mesh
        .publish_queued(&out.topic, out.payload.clone(), Delivery::Guaranteed)
        .await;
    Box::pin(settle(ctx, guard, metrics, out, first, started))
}

async fn settle(
    ctx: Arc<ShardCtx>,
    guard: LeaseGuard,
    metrics: Arc<ShardMetrics>,
    out: Outgoing,
    first: Result<PublishAck, MeshError>,
    started: Instant,
) -> Result<Done, PublishFailure> {
    let mut result = match first {
        Ok(ack) => ack.await,
        Err(e) => Err(e),
    };
    let mut backoff = Duration::from_millis(50);
    loop {
        match result {
            Ok(()) => {
                metrics.events_out.increment(1);
                metrics
                    .publish_seconds
                    .record(started.elapsed().as_secs_f64());
                return Ok(out.done);
            }
            Err(e) if e.is_permanent() => {
                dead_letter(&ctx, &guard, &out, &e).await;
                return Ok(out.done);
            }
            Err(e) => {
                metrics.publish_retries.increment(1);
                tracing::warn!(topic = %out.topic, error = &e as &dyn std::error::Error, backoff_ms = backoff.as_millis() as u64, "publish failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                // Fencing: a node that lost the shard (paused past its TTL, say) publishes
                // nothing more.
                if !guard.is_valid() {
                    metrics.fenced.increment(1);
                    return Err(PublishFailure::Fenced);
                }
                result = ctx
                    .mesh
                    .publish(&out.topic, out.payload.clone(), Delivery::Guaranteed)
                    .await;
            }
        }
    }
}

/// Records a refused dispatch: the dead-letter stream (retried a few times), a best-effort
/// copy on `<root>-dead/ingest/<shard>`, a lifecycle event, a metric and an error log.
async fn dead_letter(ctx: &ShardCtx, guard: &LeaseGuard, out: &Outgoing, error: &MeshError) {
    let shard = guard.lease().partition;
    let reason = error.refusal_reason().unwrap_or("refused").to_owned();
    metrics::publish_refused(&reason);
    tracing::error!(shard, topic = %out.topic, %reason, error = error as &dyn std::error::Error, "dispatch refused for good; recorded as a dead letter and skipped");
    let letter = DeadLetter {
        topic: out.topic.to_string(),
        payload: out.payload.clone(),
        reason: reason.clone(),
        shard,
        at_ms: now_ms(),
    };
    let mut redis = ctx.redis.clone();
    let mut backoff = Duration::from_millis(100);
    for attempt in 1..=DEAD_LETTER_ATTEMPTS {
        match DeadLetters::record(
            &mut redis,
            &ctx.config.key_prefix,
            DEAD_LETTER_GROUP,
            &letter,
        )
        .await
        {
            Ok(_) => break,
            Err(e) if attempt == DEAD_LETTER_ATTEMPTS => {
                tracing::error!(shard, topic = %out.topic, error = &e as &dyn std::error::Error, "dead letter not recorded: the dispatch is lost");
                metrics::dead_letter_failed();
            }
            Err(e) => {
                tracing::warn!(
                    shard,
                    error = &e as &dyn std::error::Error,
                    "dead letter not recorded; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
    // For live watchers only: direct delivery, failures ignored.
    if let Ok(topic) = ctx.topics.dead_letter(DEAD_LETTER_GROUP, shard) {
        let _ = ctx
            .mesh
            .publish_queued(&topic, out.payload.clone(), Delivery::Direct)
            .await;
    }
    ctx.lifecycle.publish(
        shard,
        LifecycleEvent::PublishRefused,
        json!({ "topic": out.topic.as_str(), "reason": reason, "bytes": out.payload.len() }),
    );
}
