//! The worker loop: consume the group's partitions, project in pipelined batches fenced by the
//! partition's lease, republish on `<root>-state/…`, then acknowledge.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ddiscord::Topics;
use ddiscord::cache::Keys;
use ddiscord::coord::Fence;
use ddiscord::group::{ConsumerGroup, DurableSource, GroupConfig, GroupMessage};
use ddiscord::topic::TopicPattern;
use futures::{FutureExt, StreamExt};
use redis::aio::ConnectionManager;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::StateWorkerConfig;
use crate::error::WorkerError;
use crate::health::Readiness;
use crate::projection::{Fencing, Outcome, ProjectionError, Projector};

/// How long a stopping worker keeps working on the batch in hand (applying, republishing,
/// acknowledging) before it gives the batch up: it stays unacknowledged and is redelivered.
/// Bounds the stop when the mesh or Redis is gone (a republish waits for a PUBACK).
pub const BATCH_GRACE: Duration = Duration::from_secs(1);
/// How long leaving the consumer group (closing the sessions, releasing the leases in Redis)
/// may take before the worker stops without it (the leases then expire after their TTL).
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(1);
/// Bound on [`StateWorkerHandle::shutdown`]: after it the worker task is aborted.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// A running state worker.
pub struct StateWorkerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), WorkerError>>,
    http_addr: Option<SocketAddr>,
    readiness: Readiness,
}

impl std::fmt::Debug for StateWorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateWorkerHandle")
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

impl StateWorkerHandle {
    /// The bound address of `/healthz`, `/readyz`, `/metrics`, if served.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The worker's readiness check (what its `/readyz` answers), for a program that serves
    /// its own endpoints, as `ddiscord up` does.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Stops gracefully: finishes the batch in hand, closes the sessions (unacked messages stay
    /// with the broker) and releases the leases so other replicas take over at once.
    ///
    /// Bounded even when the mesh and Redis are gone: the batch in hand gets [`BATCH_GRACE`],
    /// leaving the group [`LEAVE_TIMEOUT`], and after [`SHUTDOWN_TIMEOUT`] in all the task is
    /// aborted (unacknowledged messages are redelivered, the leases expire after their TTL).
    ///
    /// # Errors
    /// What stopped the worker, if it failed; [`WorkerError::ShutdownTimeout`] when it had to
    /// be aborted.
    pub async fn shutdown(mut self) -> Result<(), WorkerError> {
        let _ = self.stop.send(true);
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut self.task).await {
            Ok(joined) => joined.map_err(|e| WorkerError::Task(e.to_string()))?,
            Err(_) => {
                self.task.abort();
                Err(WorkerError::ShutdownTimeout(SHUTDOWN_TIMEOUT))
            }
        }
    }

    /// Waits until the worker stops.
    ///
    /// # Errors
    /// What stopped the worker, if it failed.
    pub async fn wait(self) -> Result<(), WorkerError> {
        self.task
            .await
            .map_err(|e| WorkerError::Task(e.to_string()))?
    }

    /// Resolves when the worker stops by itself (a failure); the handle is spent afterwards.
    pub(crate) async fn finished(&mut self) -> Result<(), WorkerError> {
        (&mut self.task)
            .await
            .map_err(|e| WorkerError::Task(e.to_string()))?
    }
}

/// The state worker.
#[derive(Debug)]
pub struct StateWorker;

impl StateWorker {
    /// Connects to the mesh at [`StateWorkerConfig::mesh_url`] and starts (what `ddiscord up`
    /// and `ddiscord state-worker` use).
    ///
    /// # Errors
    /// [`WorkerError::Mesh`] when the mesh URL is invalid, and as [`StateWorker::start_with`].
    pub async fn start(config: StateWorkerConfig) -> Result<StateWorkerHandle, WorkerError> {
        let mesh_config = ddiscord::mesh::MeshConfig::new(config.mesh_url.clone())
            .with_client_id(format!("{}-{}", config.group, config.node_id))
            .with_max_payload_bytes(config.max_payload_bytes);
        let mesh = ddiscord::mesh::Mesh::connect(mesh_config)
            .await
            .map_err(|e| WorkerError::Mesh(Box::new(e)))?;
        Self::start_with(mesh, config).await
    }

    /// Starts a worker consuming from `source` (the mesh).
    ///
    /// # Errors
    /// [`WorkerError::Redis`] when Redis is unreachable, [`WorkerError::Group`] when the group
    /// cannot be joined, [`WorkerError::Http`] when the health address cannot be bound.
    pub async fn start_with<S: DurableSource>(
        source: S,
        config: StateWorkerConfig,
    ) -> Result<StateWorkerHandle, WorkerError> {
        let topics = Topics::new(&config.topic_root)
            .map_err(|e| WorkerError::Config(format!("DDISCORD_TOPIC_ROOT: {e}")))?;
        let client = redis::Client::open(config.redis_url.as_str()).map_err(|e| {
            WorkerError::Config(format!(
                "DDISCORD_REDIS_URL is not a Redis URL: {}",
                e.kind_str()
            ))
        })?;
        let redis = ConnectionManager::new(client)
            .await
            .map_err(WorkerError::Redis)?;
        let pattern = TopicPattern::new(format!("{}/>", topics.root()))
            .map_err(|e| WorkerError::Config(format!("DDISCORD_TOPIC_ROOT: {e}")))?;
        let mut group_config = GroupConfig::new(config.group.clone(), pattern, config.shards);
        group_config.key_prefix = config.key_prefix.clone();
        group_config.node_id = config.node_id.clone();
        group_config.lease_ttl = config.lease_ttl;
        group_config.capacity = config.batch.saturating_mul(4).max(64);
        let (stop, stop_rx) = watch::channel(false);
        let ready = Arc::new(AtomicBool::new(false));
        let readiness = Readiness::new(ready.clone(), redis.clone());
        let http_addr = match config.http_addr {
            Some(addr) => {
                let check = readiness.clone();
                let mut stop = stop_rx.clone();
                let server = ddiscord_ops::serve(
                    addr,
                    move || {
                        let check = check.clone();
                        async move { check.check().await }
                    },
                    async move {
                        let _ = stop.wait_for(|s| *s).await;
                    },
                )
                .await?;
                Some(server.local_addr())
            }
            None => None,
        };
        let group =
            ConsumerGroup::join(source.clone(), redis.clone(), group_config.clone()).await?;
        ready.store(true, Ordering::Relaxed);
        tracing::info!(group = %config.group, shards = config.shards, node = %config.node_id, "state worker joined its consumer group");
        let projector = Projector::new(
            redis,
            Keys::new(config.key_prefix.clone()),
            config.projection.clone(),
        );
        let worker = Loop {
            source,
            topics,
            projector,
            fence_group: group_config.lease_group(),
            config,
        };
        let task = tokio::spawn(worker.run(group, stop_rx, ready));
        Ok(StateWorkerHandle {
            stop,
            task,
            http_addr,
            readiness,
        })
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    /// The error without its detail, which may echo the URL (and its password).
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

struct Loop<S> {
    source: S,
    topics: Topics,
    projector: Projector<ConnectionManager>,
    fence_group: String,
    config: StateWorkerConfig,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<S: DurableSource> Loop<S> {
    async fn run(
        mut self,
        mut group: ConsumerGroup,
        mut stop: watch::Receiver<bool>,
        ready: Arc<AtomicBool>,
    ) -> Result<(), WorkerError> {
        loop {
            let first = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                m = group.next() => m,
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while batch.len() < self.config.batch {
                match group.next().now_or_never() {
                    Some(Some(m)) => batch.push(m),
                    _ => break,
                }
            }
            metrics::histogram!("ddiscord_state_pipeline_depth").record(batch.len() as f64);
            // Once stopping, the batch in hand gets a grace period: a republish waiting for a
            // broker that is gone must not hold the stop forever.
            let mut grace = stop.clone();
            let abandoned = tokio::select! {
                () = self.process(batch, &mut stop) => false,
                () = async {
                    let _ = grace.wait_for(|s| *s).await;
                    tokio::time::sleep(BATCH_GRACE).await;
                } => true,
            };
            if abandoned {
                tracing::warn!(
                    grace_ms = BATCH_GRACE.as_millis() as u64,
                    "stopping with a batch in hand unfinished (mesh or Redis not answering); it stays unacked and is redelivered"
                );
                break;
            }
        }
        ready.store(false, Ordering::Relaxed);
        tracing::info!("state worker stopping: leaving the consumer group");
        match tokio::time::timeout(LEAVE_TIMEOUT, group.shutdown()).await {
            Ok(left) => left?,
            Err(_) => tracing::warn!(
                timeout_ms = LEAVE_TIMEOUT.as_millis() as u64,
                "leaving the consumer group timed out (Redis not answering); the leases expire after their TTL"
            ),
        }
        Ok(())
    }

    /// Applies a batch partition by partition (keeping each partition's order), then
    /// republishes and acknowledges.
    async fn process(&mut self, batch: Vec<GroupMessage>, stop: &mut watch::Receiver<bool>) {
        let mut runs: Vec<Vec<GroupMessage>> = Vec::new();
        for m in batch {
            match runs.iter_mut().find(|r| r[0].lease == m.lease) {
                Some(run) => run.push(m),
                None => runs.push(vec![m]),
            }
        }
        for run in runs {
            self.process_run(run, stop).await;
        }
    }

    async fn process_run(&mut self, run: Vec<GroupMessage>, stop: &mut watch::Receiver<bool>) {
        let lease = run[0].lease;
        let fence = Fencing {
            key: Fence::key(&self.config.key_prefix, &self.fence_group, lease.partition),
            token: lease.token,
        };
        let envelopes: Vec<_> = run.iter().map(|m| m.envelope.clone()).collect();
        let mut backoff = Duration::from_millis(50);
        let outcomes = loop {
            match self.projector.apply_fenced(&envelopes, Some(&fence)).await {
                Ok(o) => break o,
                Err(ProjectionError::Fenced { shard }) => {
                    metrics::counter!("ddiscord_state_fenced_total").increment(run.len() as u64);
                    tracing::warn!(
                        shard,
                        dropped_unacked = run.len(),
                        "lease lost mid-batch; the new owner gets these events again"
                    );
                    return;
                }
                Err(e) => {
                    metrics::counter!("ddiscord_state_redis_retries_total").increment(1);
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, events = run.len(), "applying a batch failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.wait_for(|s| *s) => {
                            tracing::warn!(events = run.len(), "stopping with a batch unapplied; it stays unacked and is redelivered");
                            return;
                        }
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        };
        let now = now_ms();
        for (message, outcome) in run.iter().zip(&outcomes) {
            let event = message.envelope.event().unwrap_or("").to_owned();
            match outcome {
                Outcome::Applied { writes } => {
                    metrics::counter!("ddiscord_state_events_applied_total").increment(1);
                    metrics::counter!("ddiscord_state_redis_writes_total")
                        .increment(*writes as u64);
                }
                Outcome::Duplicate => {
                    metrics::counter!("ddiscord_state_events_duplicate_total").increment(1);
                }
                Outcome::Skipped(skip) => {
                    metrics::counter!("ddiscord_state_events_ignored_total", "reason" => skip.label()).increment(1);
                }
                Outcome::Rejected(reason) => {
                    metrics::counter!("ddiscord_state_events_rejected_total").increment(1);
                    tracing::warn!(event = %event, shard = lease.partition, seq = ?message.envelope.sequence(), reason = %reason, "event rejected and skipped");
                }
            }
            let received = message.envelope.received_ms();
            if received > 0 {
                metrics::histogram!("ddiscord_state_lag_ms")
                    .record(now.saturating_sub(received) as f64);
            }
        }
        // Republish, then acknowledge: a script reading the cache on the state tree sees the
        // event applied. A failed republish leaves the event unacked (redelivered, skipped as a
        // duplicate, republished).
        let targets: Vec<_> = run.iter().map(|m| self.state_topic(m)).collect();
        let publishes = targets.into_iter().map(|t| self.republish(t));
        let results = futures::future::join_all(publishes).await;
        for (message, ok) in run.into_iter().zip(results) {
            if !ok {
                continue;
            }
            if let Err(e) = message.ack().await {
                metrics::counter!("ddiscord_state_ack_failures_total").increment(1);
                tracing::warn!(error = %e, "ack failed; the event will be redelivered and skipped as a duplicate");
            }
        }
    }

    /// The state topic and body of a message (`None` when no topic can be built).
    fn state_topic(&self, message: &GroupMessage) -> Option<(ddiscord::Topic, bytes::Bytes)> {
        let env = &message.envelope;
        let guild = env.guild_id().ok().flatten();
        match self
            .topics
            .state(env.shard(), guild, env.event().unwrap_or("UNKNOWN"))
        {
            Ok(t) => Some((t, env.as_bytes().clone())),
            Err(e) => {
                metrics::counter!("ddiscord_state_republish_failures_total").increment(1);
                tracing::warn!(error = %e, "no state topic for the event; not republished");
                None
            }
        }
    }

    async fn republish(&self, target: Option<(ddiscord::Topic, bytes::Bytes)>) -> bool {
        let Some((topic, body)) = target else {
            return true;
        };
        match self.source.publish(topic.as_str(), body).await {
            Ok(()) => true,
            Err(e) => {
                metrics::counter!("ddiscord_state_republish_failures_total").increment(1);
                tracing::warn!(topic = %topic.as_str(), error = %e, "republishing on the state tree failed; left unacked");
                false
            }
        }
    }
}
