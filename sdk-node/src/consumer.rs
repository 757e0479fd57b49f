//! `client.consume(group, pattern)`: a work queue shared by the replicas of a consumer group
//! (`ddiscord::Client::consume_with`): partitions are the shards,
//! claimed through Redis leases, each one persistent at-least-once session on the mesh. Jobs
//! are delivered to JavaScript in batches and acknowledged (or nacked) by id after their work.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ddiscord::client::{Job, QueueOptions, WorkQueue as CoreQueue};
use futures::{FutureExt as _, StreamExt as _};
use napi_derive::napi;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::batch::{BatchBuilder, EventBatch};
use crate::client::Client;
use crate::error::{ErrorKind, NodeError, Settled};

/// Options of `consume`.
#[napi(object)]
#[derive(Debug, Default, Clone)]
pub struct ConsumeOptions {
    /// Deliveries of a nacked job before it goes to the dead-letter topic
    /// `<root>-dead/<group>/<shard>` (default 5).
    pub max_deliveries: Option<u32>,
    /// Wait before a nacked job is delivered again, in ms (default 1 000).
    pub retry_delay_ms: Option<u32>,
    /// How long a crashed replica's shards wait before another replica takes them over, in ms
    /// (default 10 000).
    pub lease_ttl_ms: Option<u32>,
}

impl ConsumeOptions {
    fn resolve(self) -> QueueOptions {
        let mut o = QueueOptions::default();
        if let Some(n) = self.max_deliveries {
            o.max_deliveries = n;
        }
        if let Some(ms) = self.retry_delay_ms {
            o.retry_delay = Duration::from_millis(u64::from(ms));
        }
        if let Some(ms) = self.lease_ttl_ms {
            o.lease_ttl = Duration::from_millis(u64::from(ms));
        }
        o
    }
}

struct Inner {
    queue: Mutex<Option<CoreQueue>>,
    /// Jobs handed to JavaScript and not yet acked or nacked, by delivery id.
    pending: std::sync::Mutex<HashMap<u32, Job>>,
    next_id: AtomicU32,
    closed: CancellationToken,
}

/// One replica's membership of a work queue.
#[napi]
pub struct WorkQueue {
    inner: Arc<Inner>,
}

fn lock_pending(inner: &Inner) -> std::sync::MutexGuard<'_, HashMap<u32, Job>> {
    inner.pending.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn take(&self, id: u32) -> Result<Job, NodeError> {
        lock_pending(self).remove(&id).ok_or_else(|| {
            NodeError::new(
                ErrorKind::InvalidArgument,
                format!("job {id} was already acked or nacked, or its consumer was closed"),
            )
        })
    }
}

#[napi]
impl Client {
    /// Joins the work queue `group` for dispatches matching `pattern` (its shard level must be
    /// `*` or `>`): replicas with the same group share the events, each shard to one replica at
    /// a time, at least once. Partitions are the shards (`DDISCORD_SHARDS`), claimed through
    /// Redis leases; a crashed replica's shards move to the others after the lease TTL with
    /// nothing lost.
    ///
    /// Errors: `DDISCORD_INVALID_PATTERN`, `DDISCORD_GROUP` (bad group name or shard level),
    /// `DDISCORD_CACHE` (Redis unreachable), `DDISCORD_CLOSED`.
    #[napi(ts_return_type = "Promise<WorkQueue>")]
    pub async fn consume(
        &self,
        group: String,
        pattern: String,
        options: Option<ConsumeOptions>,
    ) -> Settled<WorkQueue> {
        Settled(
            async {
                self.check_open()?;
                let queue = self
                    .core()
                    .consume_with(&group, &pattern, options.unwrap_or_default().resolve())
                    .await
                    .map_err(NodeError::from)?;
                Ok(WorkQueue {
                    inner: Arc::new(Inner {
                        queue: Mutex::new(Some(queue)),
                        pending: std::sync::Mutex::new(HashMap::new()),
                        next_id: AtomicU32::new(1),
                        closed: self.child_token(),
                    }),
                })
            }
            .await,
        )
    }
}

#[napi]
impl WorkQueue {
    /// Waits for at least one job, then returns it with every job already buffered, up to
    /// `maxEvents` (default 1024); `null` once closed. Each job carries a delivery id for
    /// `ack`/`nack`.
    #[napi(ts_return_type = "Promise<EventBatch | null>")]
    pub async fn next_batch(&self, max_events: Option<u32>) -> Settled<Option<EventBatch>> {
        Settled(
            async {
                let inner = Arc::clone(&self.inner);
                let max = max_events.unwrap_or(1024).clamp(1, 65_536) as usize;
                let mut guard = inner.queue.lock().await;
                let Some(queue) = guard.as_mut() else {
                    return Ok(None);
                };
                let first = tokio::select! {
                    biased;
                    () = inner.closed.cancelled() => None,
                    job = queue.next() => job,
                };
                let Some(first) = first else {
                    return Ok(None);
                };
                let mut batch = BatchBuilder::default();
                let mut add = |job: Job| {
                    let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
                    let event = job.event();
                    batch.push_delivery(
                        event.topic(),
                        event.bytes(),
                        id,
                        job.redelivered(),
                        job.deliveries(),
                    );
                    lock_pending(&inner).insert(id, job);
                };
                add(first);
                let mut count = 1;
                while count < max {
                    match queue.next().now_or_never() {
                        Some(Some(job)) => {
                            add(job);
                            count += 1;
                        }
                        _ => break,
                    }
                }
                Ok(Some(batch.finish()))
            }
            .await,
        )
    }

    /// Acknowledges job `id` after its work is done: the broker forgets it.
    ///
    /// Errors: `DDISCORD_GROUP` when the ack could not be sent (the job comes again; make the
    /// work idempotent), `DDISCORD_INVALID_ARGUMENT` for an unknown or settled id.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn ack(&self, id: u32) -> Settled<()> {
        Settled(
            async {
                let job = self.inner.take(id)?;
                job.ack().await.map_err(NodeError::from)?;
                Ok(())
            }
            .await,
        )
    }

    /// Gives job `id` back for another delivery after the retry delay; after `maxDeliveries`
    /// it goes to the dead-letter topic `<root>-dead/<group>/<shard>`.
    ///
    /// Errors: `DDISCORD_GROUP` when the shard moved to another replica (which gets the job
    /// from the broker), `DDISCORD_INVALID_ARGUMENT` for an unknown or settled id.
    #[napi]
    pub fn nack(&self, id: u32) -> napi::Result<(), String> {
        let job = self.inner.take(id)?;
        job.nack().map_err(NodeError::from)?;
        Ok(())
    }

    /// The shards this replica holds now.
    #[napi]
    pub async fn partitions(&self) -> Vec<u32> {
        let guard = self.inner.queue.lock().await;
        guard
            .as_ref()
            .map(CoreQueue::partitions)
            .unwrap_or_default()
    }

    /// Leaves the queue: other replicas take its shards over at once; jobs not yet acked stay
    /// with the broker for them. A pending `nextBatch` resolves to `null`. Idempotent.
    ///
    /// Errors: `DDISCORD_GROUP` when releasing the leases fails (they then expire).
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn close(&self) -> Settled<()> {
        Settled(
            async {
                self.inner.closed.cancel();
                lock_pending(&self.inner).clear();
                let queue = self.inner.queue.lock().await.take();
                if let Some(queue) = queue {
                    queue.close().await.map_err(NodeError::from)?;
                }
                Ok(())
            }
            .await,
        )
    }
}
