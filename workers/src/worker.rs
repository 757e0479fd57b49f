//! The worker loop: consume the group's partitions, project in pipelined batches fenced by the
//! partition's lease, republish on `<root>-state/…`, then acknowledge.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ddiscord::Topics;
use ddiscord::cache::Keys;
use ddiscord::contract::LifecycleEvent;
use ddiscord::coord::{Fence, RedisTarget, Topology};
use ddiscord::group::{ConsumerGroup, DurableSource, GroupConfig, GroupMessage};
use ddiscord::topic::TopicPattern;
use futures::{FutureExt, StreamExt};
use redis::aio::ConnectionManager;

/// How long the worker waits for Redis to answer a batch of projection scripts.
pub const SCRIPT_RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::StateWorkerConfig;
use crate::error::{WorkerError, WorkerErrorKind};
use crate::health::Readiness;
use crate::projection::{Fencing, Gaps, Outcome, ProjectionErrorKind, Projector};

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
    /// What stopped the worker, if it failed; [`WorkerErrorKind::ShutdownTimeout`] when it had to
    /// be aborted.
    pub async fn shutdown(mut self) -> Result<(), WorkerError> {
        let _ = self.stop.send(true);
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut self.task).await {
            Ok(joined) => joined.map_err(|e| WorkerError::with_source(WorkerErrorKind::Task, e))?,
            Err(_) => {
                self.task.abort();
                Err(WorkerError::new(WorkerErrorKind::ShutdownTimeout {
                    after: SHUTDOWN_TIMEOUT,
                }))
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
            .map_err(|e| WorkerError::with_source(WorkerErrorKind::Task, e))?
    }

    /// Resolves when the worker stops by itself (a failure); the handle is spent afterwards.
    pub(crate) async fn finished(&mut self) -> Result<(), WorkerError> {
        (&mut self.task)
            .await
            .map_err(|e| WorkerError::with_source(WorkerErrorKind::Task, e))?
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
    /// [`WorkerErrorKind::Mesh`] when the mesh URL is invalid, and as [`StateWorker::start_with`].
    pub async fn start(config: StateWorkerConfig) -> Result<StateWorkerHandle, WorkerError> {
        let mesh_config = ddiscord::mesh::MeshConfig::new(config.mesh_url.clone())
            .with_client_id(format!("{}-{}", config.group, config.node_id))
            .with_max_payload_bytes(config.max_payload_bytes)
            .with_security_from_env()
            .map_err(|e| WorkerError::with_source(WorkerErrorKind::Mesh, e))?;
        let mesh = ddiscord::mesh::Mesh::connect(mesh_config)
            .await
            .map_err(|e| WorkerError::with_source(WorkerErrorKind::Mesh, e))?;
        Self::start_with(mesh, config).await
    }

    /// Starts a worker consuming from `source` (the mesh).
    ///
    /// # Errors
    /// [`WorkerErrorKind::Redis`] when Redis is unreachable, [`WorkerErrorKind::Group`] when the group
    /// cannot be joined, [`WorkerErrorKind::Http`] when the health address cannot be bound.
    pub async fn start_with<S: DurableSource>(
        source: S,
        config: StateWorkerConfig,
    ) -> Result<StateWorkerHandle, WorkerError> {
        let topics = Topics::new(&config.topic_root)
            .map_err(|e| WorkerError::config(format!("DDISCORD_TOPIC_ROOT: {e}")))?;
        let target = RedisTarget::from_env_with_url(config.redis_url.as_str())
            .map_err(|e| WorkerError::with_source(WorkerErrorKind::Redis, e))?;
        // One projection script can hold Redis for a while (a GUILD_CREATE of a guild with
        // tens of thousands of members): the response timeout leaves room for that, where the
        // client's default (500 ms) would time out a script that then applies anyway.
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(SCRIPT_RESPONSE_TIMEOUT));
        let redis = target
            .connect_with(manager)
            .await
            .map_err(|e| WorkerError::with_source(WorkerErrorKind::Redis, e))?;
        let pattern = TopicPattern::new(format!("{}/>", topics.root()))
            .map_err(|e| WorkerError::config(format!("DDISCORD_TOPIC_ROOT: {e}")))?;
        let (stop, stop_rx) = watch::channel(false);
        let ready = Arc::new(AtomicBool::new(false));
        let probe = source.clone();
        let readiness = Readiness::new(
            ready.clone(),
            redis.clone(),
            Arc::new(move || probe.is_connected()),
        );
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
        // Served first: `/healthz` answers (and `/readyz` says not ready) while the worker
        // waits for ingest to record the shard count.
        let shards = shard_count(&mut redis.clone(), &config).await?;
        let mut group_config = GroupConfig::new(config.group.clone(), pattern, shards);
        group_config.key_prefix = config.key_prefix.clone();
        group_config.node_id = config.node_id.clone();
        group_config.lease_ttl = config.lease_ttl;
        group_config.capacity = config.batch.saturating_mul(4).max(64);
        let group =
            ConsumerGroup::join(source.clone(), redis.clone(), group_config.clone()).await?;
        ready.store(true, Ordering::Relaxed);
        tracing::info!(group = %config.group, shards, node = %config.node_id, "state worker joined its consumer group");
        let projector = Projector::new(
            redis.clone(),
            Keys::new(config.key_prefix.clone()),
            config.projection.clone(),
        );
        let worker = Loop {
            source,
            topics,
            projector,
            redis,
            fence_group: group_config.lease_group(),
            group_config,
            config,
            held: std::sync::Mutex::new(Held::default()),
            done: std::sync::Mutex::new(Vec::new()),
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

/// The shard count to consume: the topology ingest recorded (waiting for it when none is
/// recorded and none is configured), checked against an explicit `DDISCORD_SHARDS`.
async fn shard_count(
    redis: &mut ConnectionManager,
    config: &StateWorkerConfig,
) -> Result<u32, WorkerError> {
    let coord = WorkerError::from;
    match Topology::read(redis, &config.key_prefix)
        .await
        .map_err(coord)?
    {
        Some(t) => t
            .check_explicit(config.shards, "DDISCORD_SHARDS")
            .map_err(coord),
        None => match config.shards {
            Some(n) => Ok(n),
            None => Ok(Topology::wait(redis, &config.key_prefix, TOPOLOGY_POLL)
                .await
                .map_err(coord)?
                .shards),
        },
    }
}

/// How often the recorded topology is read, to follow a change of the shard count.
const TOPOLOGY_POLL: Duration = Duration::from_secs(2);

struct Loop<S> {
    source: S,
    topics: Topics,
    projector: Projector<ConnectionManager>,
    redis: ConnectionManager,
    fence_group: String,
    group_config: GroupConfig,
    config: StateWorkerConfig,
    /// Behind a mutex only so that the loop is `Sync` (messages carry a `Send`-only ack); the
    /// loop is its only user and reaches it through `&mut self` ([`Loop::held`]).
    held: std::sync::Mutex<Held>,
    /// Events handled (applied, skipped or rejected) and not yet republished and
    /// acknowledged, in the order they were handled; behind a mutex for the same reason.
    done: std::sync::Mutex<Vec<GroupMessage>>,
}

/// Most events held behind gaps per partition; past it the gap is given up on.
const MAX_HELD: usize = 8192;

/// Events of one partition held behind a gap, in the order to offer them again.
#[derive(Default)]
struct HeldRun {
    messages: Vec<GroupMessage>,
}

impl HeldRun {
    fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    fn lease(&self) -> Option<ddiscord::coord::Lease> {
        self.messages.first().map(|m| m.lease)
    }

    /// Sessions in the order they first appear, each session's events by sequence.
    fn sort(&mut self) {
        let mut order: Vec<Option<String>> = Vec::new();
        for m in &self.messages {
            let s = m.envelope.session().map(str::to_owned);
            if !order.contains(&s) {
                order.push(s);
            }
        }
        self.messages.sort_by_key(|m| {
            let s = m.envelope.session().map(str::to_owned);
            (
                order.iter().position(|o| *o == s).unwrap_or(usize::MAX),
                m.envelope.sequence().unwrap_or(0),
            )
        });
    }
}

/// The held events of every partition, with when each partition started waiting.
#[derive(Default)]
struct Held {
    runs: std::collections::HashMap<u32, HeldRun>,
    /// When each partition's current wait began (kept while its events are taken out and
    /// offered again; cleared when nothing is held any more).
    since: std::collections::HashMap<u32, tokio::time::Instant>,
}

impl Held {
    fn take(&mut self, partition: u32) -> Option<HeldRun> {
        self.runs.remove(&partition)
    }

    /// Holds `run`; the wait started at the first put since the partition was last clear.
    fn put(&mut self, partition: u32, run: HeldRun) {
        self.since
            .entry(partition)
            .or_insert_with(tokio::time::Instant::now);
        self.runs.insert(partition, run);
    }

    /// Nothing is held for `partition` any more.
    fn clear(&mut self, partition: u32) {
        self.runs.remove(&partition);
        self.since.remove(&partition);
    }

    fn len(&self) -> usize {
        self.runs.values().map(|r| r.messages.len()).sum()
    }

    fn next_deadline(&self, timeout: Duration) -> Option<tokio::time::Instant> {
        self.runs
            .iter()
            .map(|(p, r)| {
                let since = self
                    .since
                    .get(p)
                    .copied()
                    .unwrap_or_else(tokio::time::Instant::now);
                if r.messages.len() >= MAX_HELD {
                    since
                } else {
                    since + timeout
                }
            })
            .min()
    }

    fn expired(&self, timeout: Duration, max: usize) -> Vec<u32> {
        let now = tokio::time::Instant::now();
        self.runs
            .iter()
            .filter(|(p, r)| {
                let since = self.since.get(p).copied().unwrap_or(now);
                now >= since + timeout || r.messages.len() >= max
            })
            .map(|(p, _)| *p)
            .collect()
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<S: DurableSource> Loop<S> {
    fn done(&mut self) -> &mut Vec<GroupMessage> {
        self.done
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn held(&mut self) -> &mut Held {
        self.held
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn run(
        mut self,
        mut group: ConsumerGroup,
        mut stop: watch::Receiver<bool>,
        ready: Arc<AtomicBool>,
    ) -> Result<(), WorkerError> {
        let mut topology = tokio::time::interval(TOPOLOGY_POLL);
        topology.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let timeout = self.config.gap_timeout;
            let deadline = self.held().next_deadline(timeout);
            enum Wake {
                Stop,
                Message(Option<Box<GroupMessage>>),
                Gap,
                Topology,
            }
            let wake = tokio::select! {
                _ = stop.wait_for(|s| *s) => Wake::Stop,
                m = group.next() => Wake::Message(m.map(Box::new)),
                () = sleep_until(deadline) => Wake::Gap,
                _ = topology.tick() => Wake::Topology,
            };
            let first = match wake {
                Wake::Stop => break,
                Wake::Message(m) => m.map(|m| *m),
                Wake::Gap => {
                    self.expire_gaps(&mut stop).await;
                    continue;
                }
                Wake::Topology => {
                    if let Some(partitions) = self.topology_change().await {
                        group = self.rejoin(group, partitions).await?;
                    }
                    continue;
                }
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

    /// The new partition count when the recorded shard count changed (a re-shard).
    async fn topology_change(&mut self) -> Option<u32> {
        let recorded = match Topology::read(&mut self.redis, &self.config.key_prefix).await {
            Ok(Some(t)) => t.shards,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(
                    error = &e as &dyn std::error::Error,
                    "could not read the topology; keeping the shard count"
                );
                return None;
            }
        };
        if recorded == self.group_config.partitions {
            return None;
        }
        if let Some(explicit) = self.config.shards
            && explicit != recorded
        {
            tracing::error!(
                explicit,
                recorded,
                "ingest recorded another shard count than DDISCORD_SHARDS; keeping DDISCORD_SHARDS (unset it to follow ingest)"
            );
            return None;
        }
        Some(recorded)
    }

    /// Leaves the group and joins it again with `partitions`; held events are dropped
    /// unacknowledged (the broker redelivers them).
    async fn rejoin(
        &mut self,
        group: ConsumerGroup,
        partitions: u32,
    ) -> Result<ConsumerGroup, WorkerError> {
        tracing::warn!(
            from = self.group_config.partitions,
            to = partitions,
            "the shard count changed; rejoining the consumer group with the new partitions"
        );
        if let Err(e) = group.shutdown().await {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "leaving the old membership failed; its leases expire after their TTL"
            );
        }
        *self.held() = Held::default();
        self.group_config.partitions = partitions;
        let mut backoff = Duration::from_millis(200);
        loop {
            match ConsumerGroup::join(
                self.source.clone(),
                self.redis.clone(),
                self.group_config.clone(),
            )
            .await
            {
                Ok(g) => return Ok(g),
                Err(e) => {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        retry_in_ms = backoff.as_millis() as u64,
                        "rejoining the consumer group failed; retrying"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
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
        self.republish_done().await;
    }

    /// Forces the oldest held event of every partition whose gap outlived the timeout (or
    /// whose held events reached the bound): the missing sequence is given up on, loudly.
    async fn expire_gaps(&mut self, stop: &mut watch::Receiver<bool>) {
        let timeout = self.config.gap_timeout;
        for partition in self.held().expired(timeout, MAX_HELD) {
            let Some(mut held) = self.held().take(partition) else {
                continue;
            };
            // A new wait starts for whatever gap comes after the one given up on.
            self.held().clear(partition);
            held.sort();
            let mut messages = held.messages;
            if messages.is_empty() {
                continue;
            }
            let first = messages.remove(0);
            let expected = self.expected(partition).await;
            let (session, seq) = (
                first.envelope.session().unwrap_or_default().to_owned(),
                first.envelope.sequence().unwrap_or_default(),
            );
            metrics::counter!("ddiscord_state_sequence_gaps_total").increment(1);
            tracing::warn!(
                shard = partition,
                %session,
                expected = ?expected,
                applying = seq,
                held = messages.len() + 1,
                "sequence gap never filled; applying what follows it (events in the gap are lost to the cache)"
            );
            self.lifecycle_gap(partition, &session, expected, seq, messages.len() + 1)
                .await;
            let lease = first.lease;
            self.apply_run(vec![first], lease, Gaps::Accept, stop).await;
            if !messages.is_empty() {
                self.process_run(messages, stop).await;
            }
        }
        self.republish_done().await;
    }

    /// The sequence the cache expects next on `partition`, for the log (best effort).
    async fn expected(&mut self, partition: u32) -> Option<u64> {
        let key = self.projector.planner().keys().shard(partition);
        let mut conn = self.redis.clone();
        let seq: Option<u64> = redis::cmd("HGET")
            .arg(key)
            .arg("seq")
            .query_async(&mut conn)
            .await
            .ok()
            .flatten();
        seq.map(|s| s + 1)
    }

    async fn lifecycle_gap(
        &self,
        shard: u32,
        session: &str,
        expected: Option<u64>,
        got: u64,
        held: usize,
    ) {
        let Ok(topic) = self
            .topics
            .lifecycle(shard, LifecycleEvent::SequenceGap.name())
        else {
            return;
        };
        let body = serde_json::json!({
            "node": self.config.node_id,
            "at_ms": now_ms(),
            "group": self.config.group,
            "session": session,
            "expected": expected,
            "applied": got,
            "held": held,
        });
        if let Err(e) = self
            .source
            .publish(topic.as_str(), bytes::Bytes::from(body.to_string()))
            .await
        {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "could not publish the SEQUENCE_GAP lifecycle event"
            );
        }
    }

    /// Applies `run` (one partition's messages, in arrival order) together with the events
    /// held for that partition, holding again whatever still follows a gap.
    async fn process_run(&mut self, run: Vec<GroupMessage>, stop: &mut watch::Receiver<bool>) {
        let Some(lease) = run.first().map(|m| m.lease) else {
            return;
        };
        let held = self.held().take(lease.partition);
        let mut messages = match held {
            Some(held) if held.lease() == Some(lease) => {
                let mut held = held;
                held.sort();
                let mut all = held.messages;
                all.extend(run);
                all
            }
            // Held under an older lease: that session was closed, the broker redelivers them
            // (abandoned, not failed: the redelivery does not count towards max_deliveries).
            Some(stale) => {
                GroupMessage::abandon_all(stale.messages).await;
                run
            }
            None => run,
        };
        // Rounds: a round may fill the gap of an event held earlier in the same round.
        loop {
            let before = messages.len();
            let gaps = self.apply_run(messages, lease, Gaps::Hold, stop).await;
            let Some(mut gaps) = gaps else {
                self.held().clear(lease.partition);
                return;
            };
            if gaps.is_empty() {
                self.held().clear(lease.partition);
                #[allow(clippy::cast_precision_loss)]
                metrics::gauge!("ddiscord_state_held_events").set(self.held().len() as f64);
                return;
            }
            gaps.sort();
            if gaps.messages.len() == before {
                // Nothing applied this round: wait for the missing events.
                self.held().put(lease.partition, gaps);
                #[allow(clippy::cast_precision_loss)]
                metrics::gauge!("ddiscord_state_held_events").set(self.held().len() as f64);
                return;
            }
            messages = gaps.messages;
        }
    }

    /// Applies `run` under `lease`, republishes and acknowledges what is done, and returns the
    /// events held back by a gap (`None` when the run was abandoned: fenced or stopping).
    async fn apply_run(
        &mut self,
        run: Vec<GroupMessage>,
        lease: ddiscord::coord::Lease,
        gaps: Gaps,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<HeldRun> {
        let fence = Fencing {
            key: Fence::key(&self.config.key_prefix, &self.fence_group, lease.partition),
            token: lease.token,
        };
        let envelopes: Vec<_> = run.iter().map(|m| m.envelope.clone()).collect();
        let mut backoff = Duration::from_millis(50);
        let outcomes = loop {
            match self
                .projector
                .apply_fenced(&envelopes, Some(&fence), gaps)
                .await
            {
                Ok(o) => break o,
                Err(e) => {
                    if let ProjectionErrorKind::Fenced { shard } = *e.kind() {
                        metrics::counter!("ddiscord_state_fenced_total")
                            .increment(run.len() as u64);
                        tracing::warn!(
                            shard,
                            dropped_unacked = run.len(),
                            "lease lost mid-batch; the new owner gets these events again"
                        );
                        // Not failed: the redelivery to the new owner must not count
                        // towards max_deliveries.
                        GroupMessage::abandon_all(run).await;
                        return None;
                    }
                    metrics::counter!("ddiscord_state_redis_retries_total").increment(1);
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        retry_in_ms = backoff.as_millis() as u64,
                        events = run.len(),
                        "applying a batch failed; retrying"
                    );
                    let stopping = tokio::select! {
                        _ = tokio::time::sleep(backoff) => false,
                        _ = stop.wait_for(|s| *s) => true,
                    };
                    if stopping {
                        tracing::warn!(
                            events = run.len(),
                            "stopping with a batch unapplied; it stays unacked and is redelivered"
                        );
                        GroupMessage::abandon_all(run).await;
                        return None;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        };
        let now = now_ms();
        let mut held = HeldRun::default();
        let mut done = Vec::with_capacity(run.len());
        for (message, outcome) in run.into_iter().zip(outcomes) {
            let event = message.envelope.event().unwrap_or("").to_owned();
            match outcome {
                Outcome::Gap => {
                    held.messages.push(message);
                    continue;
                }
                Outcome::Applied { writes } => {
                    metrics::counter!("ddiscord_state_events_applied_total").increment(1);
                    metrics::counter!("ddiscord_state_redis_writes_total").increment(writes as u64);
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
            done.push(message);
        }
        self.done().extend(done);
        Some(held)
    }

    /// Republishes on the state tree, then acknowledges, every event handled since the last
    /// call (of every partition of the batch: one wait for the broker per batch, not one per
    /// partition). A script reading the cache on the state tree sees the event applied. A
    /// failed republish leaves the event unacked (redelivered, skipped as a duplicate,
    /// republished). In handling order, so the state tree carries each shard's events in
    /// sequence order.
    async fn republish_done(&mut self) {
        let done = std::mem::take(self.done());
        if done.is_empty() {
            return;
        }
        let targets: Vec<_> = done.iter().map(|m| self.state_topic(m)).collect();
        let wanted: Vec<bool> = targets.iter().map(Option::is_some).collect();
        let mut published = self
            .source
            .publish_in_order(targets.into_iter().flatten().collect())
            .await
            .into_iter();
        let results: Vec<bool> = done
            .iter()
            .zip(wanted)
            .map(|(message, wanted)| {
                if !wanted {
                    return true;
                }
                match published.next() {
                    Some(Ok(())) => true,
                    Some(Err(e)) => {
                        metrics::counter!("ddiscord_state_republish_failures_total").increment(1);
                        tracing::warn!(
                            shard = message.lease.partition,
                            error = &e as &dyn std::error::Error,
                            "republishing on the state tree failed; left unacked"
                        );
                        false
                    }
                    None => false,
                }
            })
            .collect();
        for (message, ok) in done.into_iter().zip(results) {
            if !ok {
                continue;
            }
            if let Err(e) = message.ack().await {
                metrics::counter!("ddiscord_state_ack_failures_total").increment(1);
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "ack failed; the event will be redelivered and skipped as a duplicate"
                );
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
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "no state topic for the event; not republished"
                );
                None
            }
        }
    }
}
