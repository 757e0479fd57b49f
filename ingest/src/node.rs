//! An ingest node: leases shards and runs one [`crate::shard`] runner per leased shard.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ddiscord::Topics;
use ddiscord::coord::{LeaseConfig, LeaseEvent, Leases, RedisTarget, Topology};
use ddiscord::mesh::Mesh;
use ddiscord::topic::TopicPattern;
use redis::aio::ConnectionManager;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use crate::config::IngestConfig;
use crate::error::{IngestError, IngestErrorKind};
use crate::gateway_info::{self, GatewayInfo};
use crate::groups::GroupSessions;
use crate::identify::{IdentifyLimiter, IdentifyNotice, RedisQueue};
use crate::lifecycle::{Lifecycle, LifecycleEvent};
use crate::metrics;
use crate::session::SessionStore;
use crate::shard::{ShardCtx, ShardExit, StopMode, run_shard};

/// Bound on [`IngestNode::shutdown`]: the shards' drain (5 s) and close (2 s) plus the lease
/// release and the mesh's close. Well within the 30 s Kubernetes grants a pod.
pub const SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(9);

/// The lease group of ingest nodes.
pub const LEASE_GROUP: &str = "ingest";

/// A running ingest node.
///
/// [`IngestNode::shutdown`] is what SIGTERM does: every shard drains its window, persists its
/// session and closes with 4000, then the leases are released so other nodes RESUME the shards
/// at once. [`IngestNode::kill`] is a crash: nothing is cleaned up, and other nodes take the
/// shards over once the leases expire.
pub struct IngestNode {
    node_id: String,
    shard_count: u32,
    status: Arc<NodeStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), IngestError>>>,
    held: watch::Receiver<Vec<u32>>,
}

/// Where the Discord gateway is when `DDISCORD_GATEWAY_URL` is unset, as recorded in the
/// topology (<https://discord.com/developers/docs/events/gateway#connecting>).
const DISCORD_GATEWAY_URL: &str = "wss://gateway.discord.gg";
/// How often readiness checks the mesh connection and pings Redis.
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);
/// How long a Redis PING may take before Redis counts as down.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// What `/readyz` and tests read.
#[derive(Debug)]
pub struct NodeStatus {
    ready: AtomicBool,
    fatal: AtomicBool,
    mesh_up: AtomicBool,
    redis_up: AtomicBool,
}

impl Default for NodeStatus {
    fn default() -> Self {
        Self {
            ready: AtomicBool::new(false),
            fatal: AtomicBool::new(false),
            mesh_up: AtomicBool::new(true),
            redis_up: AtomicBool::new(true),
        }
    }
}

impl NodeStatus {
    /// Connected to Redis and the mesh, leases running, no shard failed for good.
    pub fn is_ready(&self) -> bool {
        self.check().is_ok()
    }

    /// [`NodeStatus::is_ready`], with the reason when not: what `/readyz` answers. The mesh
    /// connection ([`Mesh::is_connected`]) and a Redis `PING` (answered within 1 s) are
    /// checked every 500 ms, so readiness goes false within about 1.5 s of either going down
    /// and true again after recovery.
    pub fn check(&self) -> Result<(), ddiscord_ops::NotReady> {
        if self.fatal.load(Ordering::Relaxed) {
            Err("ingest: a shard failed for good (see the log)".into())
        } else if !self.ready.load(Ordering::Relaxed) {
            Err("ingest: connecting to Redis and the mesh".into())
        } else if !self.mesh_up.load(Ordering::Relaxed) {
            Err("ingest: the mesh connection is lost (reconnecting); check DDISCORD_MESH_URL and the broker".into())
        } else if !self.redis_up.load(Ordering::Relaxed) {
            Err("ingest: Redis does not answer PING; check DDISCORD_REDIS_URL and Redis".into())
        } else {
            Ok(())
        }
    }
}

/// Keeps [`NodeStatus`]'s view of the mesh and Redis current, until the node stops.
async fn watch_health(status: Arc<NodeStatus>, mesh: Mesh, mut redis: ConnectionManager) {
    let mut tick = tokio::time::interval(HEALTH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mesh_up = mesh.is_connected();
        let ping = tokio::time::timeout(
            PING_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut redis),
        )
        .await;
        let redis_up = matches!(ping, Ok(Ok(_)));
        if status.mesh_up.swap(mesh_up, Ordering::Relaxed) != mesh_up {
            tracing::info!(mesh_up, "readiness: mesh connection changed");
        }
        if status.redis_up.swap(redis_up, Ordering::Relaxed) != redis_up {
            tracing::info!(redis_up, "readiness: Redis changed");
        }
    }
}

/// The shard count and topology to run with, reconciled with what is recorded in Redis
/// (`{prefix}topology`), and recorded.
///
/// - No explicit `DDISCORD_SHARDS`: Discord's recommendation is recorded (a change is logged at
///   WARN: Discord re-sharded the bot).
/// - Explicit and nothing recorded, or the same count recorded: recorded as is.
/// - Explicit and a different count recorded: refused ([`IngestErrorKind::Topology`]), unless
///   what Discord recommends now differs from what is recorded (the record is stale): then
///   the explicit count is recorded, with a WARN.
async fn reconcile_topology(
    redis: &mut ConnectionManager,
    config: &IngestConfig,
    info: Option<&GatewayInfo>,
) -> Result<Topology, IngestError> {
    let prefix = config.key_prefix.as_str();
    let recorded = Topology::read(redis, prefix).await.map_err(|e| {
        IngestError::with_source(
            IngestErrorKind::Redis {
                context: "reading the recorded topology",
            },
            e,
        )
    })?;
    let gateway_url = config
        .gateway_url
        .clone()
        .unwrap_or_else(|| DISCORD_GATEWAY_URL.to_owned());
    let max_concurrency = info.map_or_else(
        || recorded.as_ref().map_or(1, |r| r.max_concurrency),
        |i| i.max_concurrency,
    );
    let shards = match (config.shards, info) {
        (Some(n), _) => n,
        (None, Some(i)) => i.shards.max(1),
        (None, None) => recorded.as_ref().map_or(1, |r| r.shards),
    };
    let wanted = Topology {
        shards,
        max_concurrency,
        gateway_url,
    };
    if let Some(r) = &recorded {
        let discord_changed = info.is_some_and(|i| i.shards != r.shards);
        match config.shards {
            Some(n) if n != r.shards && !discord_changed => {
                return Err(IngestError::new(IngestErrorKind::Topology {
                    explicit: n,
                    recorded: r.shards,
                    key: ddiscord::coord::topology_key(prefix),
                }));
            }
            _ if r.shards != wanted.shards => {
                tracing::warn!(
                    recorded = r.shards,
                    shards = wanted.shards,
                    discord = info.map(|i| i.shards),
                    "the shard count changes (Discord changed its recommendation); recording the new topology: consumer groups follow it"
                );
            }
            _ => {}
        }
    }
    if recorded.as_ref() != Some(&wanted) {
        wanted.record(redis, prefix).await.map_err(|e| {
            IngestError::with_source(
                IngestErrorKind::Redis {
                    context: "recording the topology",
                },
                e,
            )
        })?;
    }
    Ok(wanted)
}

impl std::fmt::Debug for IngestNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestNode")
            .field("node_id", &self.node_id)
            .field("shard_count", &self.shard_count)
            .field("held", &*self.held.borrow())
            .finish_non_exhaustive()
    }
}

impl IngestNode {
    /// Connects to Redis and the mesh, learns the shard count (fixed or `GET /gateway/bot`),
    /// records the IDENTIFY budget, and starts claiming shards.
    ///
    /// # Errors
    /// [`IngestError`] for an invalid configuration, an unreachable Redis, mesh or gateway
    /// info endpoint, or a failed first lease round.
    pub async fn start(config: IngestConfig) -> Result<IngestNode, IngestError> {
        config.validate()?;
        install_crypto_provider();
        let config = Arc::new(config);
        let target = RedisTarget::from_env_with_url(config.redis_url.as_str()).map_err(|e| {
            IngestError::with_source(
                IngestErrorKind::Config {
                    reason: "the Redis credentials or TLS files cannot be read".to_owned(),
                },
                e,
            )
        })?;
        let mut redis = target.connect().await.map_err(|e| {
            IngestError::with_source(
                IngestErrorKind::Redis {
                    context: "connecting",
                },
                e,
            )
        })?;
        let info = match gateway_info::fetch(&config.token, config.gateway_url.as_deref()).await {
            Ok(i) => Some(i),
            Err(e) if config.shards.is_some() => {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "GET /gateway/bot failed; IDENTIFY budget not tracked, max_concurrency 1 assumed"
                );
                None
            }
            Err(e) => return Err(e),
        };
        let topology = reconcile_topology(&mut redis, &config, info.as_ref()).await?;
        let shard_count = topology.shards;
        let max_concurrency = info.map_or(1, |i: GatewayInfo| i.max_concurrency);
        let limiter = IdentifyLimiter::new(
            redis.clone(),
            &config.key_prefix,
            max_concurrency,
            config.identify_reserve,
        );
        if let Some(i) = &info {
            limiter.record_gateway_info(i).await.map_err(|e| {
                IngestError::with_source(
                    IngestErrorKind::Redis {
                        context: "recording the IDENTIFY budget",
                    },
                    e,
                )
            })?;
            metrics::identify_remaining(i.remaining);
            tracing::info!(
                shards = shard_count,
                remaining = i.remaining,
                total = i.total,
                max_concurrency,
                "gateway info"
            );
        }
        let mut mesh_config = config.mesh.clone().with_security_from_env().map_err(|e| {
            IngestError::with_source(
                IngestErrorKind::Mesh {
                    context: "reading the mesh credentials and TLS files",
                },
                e,
            )
        })?;
        if mesh_config.client_id.is_none() {
            // Carries the topic root: two bots sharing a broker never take each other's
            // connection over.
            mesh_config.client_id =
                Some(format!("{}-ingest-{}", config.topic_root, config.node_id));
        }
        let mesh = Mesh::connect(mesh_config).await.map_err(|e| {
            IngestError::with_source(
                IngestErrorKind::Mesh {
                    context: "connecting",
                },
                e,
            )
        })?;
        let topics = Topics::new(&config.topic_root).map_err(|e| {
            IngestError::with_source(
                IngestErrorKind::Config {
                    reason: "DDISCORD_TOPIC_ROOT is not a valid topic level".to_owned(),
                },
                e,
            )
        })?;
        let groups =
            GroupSessions::new(redis.clone(), &config.key_prefix, mesh.clone(), shard_count);
        if !config.groups.is_empty() {
            let pattern = TopicPattern::new(format!("{}/>", topics.root())).map_err(|e| {
                IngestError::with_source(
                    IngestErrorKind::Config {
                        reason: "DDISCORD_TOPIC_ROOT cannot start a pattern".to_owned(),
                    },
                    e,
                )
            })?;
            groups.register(&config.groups, &pattern).await?;
        }
        let (notice_tx, notice_rx) = mpsc::unbounded_channel();
        let queue = RedisQueue::new(limiter, config.node_id.clone(), notice_tx);
        let lifecycle = Lifecycle::new(mesh.clone(), topics.clone(), config.node_id.clone());
        let ctx = Arc::new(ShardCtx {
            config: config.clone(),
            shard_count,
            mesh: mesh.clone(),
            topics,
            sessions: SessionStore::new(
                redis.clone(),
                &config.key_prefix,
                LEASE_GROUP,
                shard_count,
            ),
            queue,
            lifecycle,
            redis: redis.clone(),
            groups,
        });
        let lease_config = LeaseConfig {
            key_prefix: config.key_prefix.clone(),
            group: LEASE_GROUP.to_owned(),
            partitions: shard_count,
            node_id: config.node_id.clone(),
            ttl: config.lease_ttl,
            renew_interval: config.lease_ttl / 3,
            // A shard given to a node that joined first drains and persists its session, so the
            // new owner resumes it instead of identifying again and losing what was in flight.
            handover: true,
        };
        let health_redis = redis.clone();
        let (leases, events) = Leases::start(redis, lease_config).await?;
        let status = Arc::new(NodeStatus::default());
        status.ready.store(true, Ordering::Relaxed);
        let health = tokio::spawn(watch_health(status.clone(), mesh.clone(), health_redis));
        let (stop_tx, stop_rx) = oneshot::channel();
        let status_for_task = status.clone();
        let (held_tx, held_rx) = watch::channel(Vec::new());
        let task = tokio::spawn(async move {
            let result = supervise(
                ctx,
                leases,
                events,
                notice_rx,
                stop_rx,
                held_tx,
                status_for_task,
            )
            .await;
            health.abort();
            result
        });
        Ok(IngestNode {
            node_id: config.node_id.clone(),
            shard_count,
            status,
            stop: Some(stop_tx),
            task: Some(task),
            held: held_rx,
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The shard count in use.
    pub fn shard_count(&self) -> u32 {
        self.shard_count
    }

    /// Shards this node runs now.
    pub fn held(&self) -> Vec<u32> {
        self.held.borrow().clone()
    }

    /// A receiver that changes whenever the set of running shards does.
    pub fn held_changes(&self) -> watch::Receiver<Vec<u32>> {
        self.held.clone()
    }

    /// Readiness, for `/readyz`.
    pub fn status(&self) -> Arc<NodeStatus> {
        self.status.clone()
    }

    /// Graceful stop (what SIGTERM does): drain, persist sessions, close every shard with 4000,
    /// release the leases.
    ///
    /// Bounded by [`SHUTDOWN_TIMEOUT`] even when the mesh or Redis is gone; after it every task
    /// is aborted.
    ///
    /// # Errors
    /// [`IngestError`] when releasing the leases failed (they then expire after the TTL), or
    /// [`IngestErrorKind::ShutdownTimeout`] when the stop had to be cut short.
    pub async fn shutdown(mut self) -> Result<(), IngestError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(mut task) => match tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut task).await {
                Ok(joined) => joined.map_err(|e| {
                    IngestError::with_source(IngestErrorKind::Task { task: "supervisor" }, e)
                })?,
                Err(_) => {
                    task.abort();
                    Err(IngestError::new(IngestErrorKind::ShutdownTimeout {
                        after: SHUTDOWN_TIMEOUT,
                    }))
                }
            },
            None => Ok(()),
        }
    }

    /// A crash: every task is aborted at once, nothing is persisted or released. For tests.
    pub fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for IngestNode {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// TLS to Discord (gateway and `GET /gateway/bot`) uses rustls with the `ring` provider; the
/// process-wide default is installed once unless the embedding program chose one already.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Gives up the lease on `shard` after its runner stopped; a failure leaves it to expire.
async fn release(leases: &Leases, shard: u32) {
    if let Err(e) = leases.release(shard).await {
        tracing::warn!(
            shard,
            error = &e as &dyn std::error::Error,
            "could not release the lease; it expires after its TTL"
        );
    }
}

struct Runner {
    stop: watch::Sender<StopMode>,
    abort: AbortHandle,
    token: u64,
}

#[allow(clippy::too_many_lines)]
async fn supervise(
    ctx: Arc<ShardCtx>,
    leases: Leases,
    mut events: mpsc::Receiver<LeaseEvent>,
    mut notices: mpsc::UnboundedReceiver<IdentifyNotice>,
    mut stop: oneshot::Receiver<()>,
    held: watch::Sender<Vec<u32>>,
    status: Arc<NodeStatus>,
) -> Result<(), IngestError> {
    // Dropping the JoinSet (on kill) aborts every runner.
    let mut set: JoinSet<(u32, u64, ShardExit)> = JoinSet::new();
    let mut runners: HashMap<u32, Runner> = HashMap::new();
    // Shards stopping to hand their lease over, with the lease's token.
    let mut handing_over: HashMap<u32, u64> = HashMap::new();
    let publish_held = |runners: &HashMap<u32, Runner>| {
        let mut v: Vec<u32> = runners.keys().copied().collect();
        v.sort_unstable();
        metrics::shards_held(v.len());
        held.send_replace(v);
    };
    loop {
        tokio::select! {
            _ = &mut stop => break,
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    LeaseEvent::Acquired(lease) => {
                        metrics::lease_event("acquired");
                        let Some(guard) = leases.guard(lease.partition) else { continue };
                        ctx.lifecycle.publish(lease.partition, LifecycleEvent::LeaseAcquired, json!({ "token": lease.token }));
                        let (tx, rx) = watch::channel(StopMode::Run);
                        let c = ctx.clone();
                        let abort = set.spawn(async move {
                            (lease.partition, lease.token, run_shard(c, guard, rx).await)
                        });
                        if let Some(old) = runners.insert(lease.partition, Runner { stop: tx, abort, token: lease.token }) {
                            old.abort.abort();
                        }
                        publish_held(&runners);
                    }
                    LeaseEvent::Lost(lease) => {
                        metrics::lease_event("lost");
                        ctx.lifecycle.publish(lease.partition, LifecycleEvent::LeaseLost, json!({ "token": lease.token }));
                        if runners.get(&lease.partition).is_some_and(|r| r.token == lease.token)
                            && let Some(r) = runners.remove(&lease.partition)
                        {
                            r.abort.abort();
                        }
                        publish_held(&runners);
                    }
                    LeaseEvent::Released(lease) => {
                        metrics::lease_event("released");
                        // Released without a handover (it timed out): the new owner resumes
                        // from the last persisted sequence.
                        if runners.get(&lease.partition).is_some_and(|r| r.token == lease.token)
                            && let Some(r) = runners.remove(&lease.partition)
                        {
                            r.abort.abort();
                        }
                        handing_over.remove(&lease.partition);
                        publish_held(&runners);
                    }
                    LeaseEvent::Surplus(lease) => {
                        metrics::lease_event("surplus");
                        // Rebalancing: the shard drains its window, persists its session and
                        // closes with 4000; the lease is released once it has stopped (below).
                        match runners.get(&lease.partition) {
                            Some(r) if r.token == lease.token => {
                                let _ = r.stop.send(StopMode::Graceful);
                                handing_over.insert(lease.partition, lease.token);
                            }
                            _ => release(&leases, lease.partition).await,
                        }
                    }
                }
            }
            Some(n) = notices.recv() => match n {
                IdentifyNotice::Allowed { remaining, .. } => {
                    if let Some(r) = remaining {
                        metrics::identify_remaining(r);
                    }
                }
                IdentifyNotice::Refused { shard, remaining, reserve } => {
                    metrics::identify_refused(shard);
                    metrics::identify_remaining(remaining);
                    ctx.lifecycle.publish(shard, LifecycleEvent::IdentifyRefused, json!({ "remaining": remaining, "reserve": reserve }));
                }
            },
            Some(res) = set.join_next(), if !set.is_empty() => {
                if let Ok((shard, token, exit)) = res {
                    if runners.get(&shard).is_some_and(|r| r.token == token) {
                        runners.remove(&shard);
                        publish_held(&runners);
                    }
                    if handing_over.get(&shard) == Some(&token) {
                        handing_over.remove(&shard);
                        release(&leases, shard).await;
                    }
                    if let ShardExit::Fatal(reason) = exit {
                        status.fatal.store(true, Ordering::Relaxed);
                        tracing::error!(shard, %reason, "shard failed for good; it stays leased to this node so no other node burns IDENTIFYs on it; fix the configuration and restart");
                    }
                }
            }
        }
    }
    // Graceful shutdown: every shard drains and persists under its still-valid lease, then the
    // leases go.
    status.ready.store(false, Ordering::Relaxed);
    for r in runners.values() {
        let _ = r.stop.send(StopMode::Graceful);
    }
    while set.join_next().await.is_some() {}
    runners.clear();
    publish_held(&runners);
    let released = leases.shutdown().await;
    ctx.mesh.close().await;
    released.map_err(IngestError::from)
}
