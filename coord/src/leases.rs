//! The lease claimer: a task that keeps this node's fair share of a group's partitions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::config::{HANDOVER_TIMEOUT, LeaseConfig};
use super::error::{CoordError, CoordErrorKind};
use super::{keys, scripts};

/// A lease on one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The partition (shard) number.
    pub partition: u32,
    /// The fencing token: strictly increasing per partition across owners, so a write made
    /// under an older token can be refused (see [`super::Fence`]).
    pub token: u64,
}

/// A change of the leases this node holds, in the order it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEvent {
    /// The node now owns the partition; start work for it.
    Acquired(Lease),
    /// The lease expired or was taken (renewal failed or came too late): stop work for the
    /// partition at once; writes under this lease are fenced.
    Lost(Lease),
    /// The lease was given up (shutdown, [`Leases::release`], or surplus after a node joined).
    Released(Lease),
    /// A node joined and this lease is above this node's fair share; with
    /// [`LeaseConfig::handover`] set, the lease is still held and renewed: stop the work for the
    /// partition cleanly, then call [`Leases::release`]. Sent once per lease; a lease not
    /// released within [`HANDOVER_TIMEOUT`] is released anyway.
    Surplus(Lease),
}

/// A cheap, clonable check that a lease is still held, for hot paths that cannot ask Redis.
///
/// It turns invalid as soon as the claimer sees the lease lost or released, and also on its own
/// once the TTL has passed since the last successful renewal was sent (minus a 10 % margin), so
/// a node that was paused (SIGSTOP) past its TTL sees its leases invalid on the first check
/// after it wakes, before its claimer task even runs.
#[derive(Clone, Debug)]
pub struct LeaseGuard {
    lease: Lease,
    state: Arc<GuardState>,
}

#[derive(Debug)]
struct GuardState {
    base: Instant,
    /// ms since `base` until which the lease is certainly valid.
    valid_until_ms: AtomicU64,
    revoked: AtomicBool,
}

impl LeaseGuard {
    /// The lease this guard checks.
    pub fn lease(&self) -> Lease {
        self.lease
    }

    /// Whether the lease is still certainly held.
    pub fn is_valid(&self) -> bool {
        !self.state.revoked.load(Ordering::Acquire)
            && elapsed_ms(self.state.base) < self.state.valid_until_ms.load(Ordering::Acquire)
    }
}

fn elapsed_ms(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

struct Held {
    lease: Lease,
    state: Arc<GuardState>,
    /// When [`LeaseEvent::Surplus`] was sent for it.
    surplus_since: Option<Instant>,
}

struct Shared {
    config: LeaseConfig,
    base: Instant,
    held: Mutex<BTreeMap<u32, Held>>,
    events: mpsc::UnboundedSender<LeaseEvent>,
    live_nodes: AtomicU64,
}

impl Shared {
    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, event: LeaseEvent) {
        match event {
            LeaseEvent::Acquired(l) => {
                tracing::info!(group = %self.config.group, partition = l.partition, token = l.token, "lease acquired");
            }
            LeaseEvent::Lost(l) => {
                tracing::warn!(group = %self.config.group, partition = l.partition, token = l.token, "lease lost");
            }
            LeaseEvent::Released(l) => {
                tracing::info!(group = %self.config.group, partition = l.partition, token = l.token, "lease released");
            }
            LeaseEvent::Surplus(l) => {
                tracing::info!(group = %self.config.group, partition = l.partition, token = l.token, "lease above the fair share; handing it over");
            }
        }
        // The receiver may be gone (the owner stopped listening); the state above is what counts.
        let _ = self.events.send(event);
    }

    fn remove(&self, partition: u32, token: u64) -> Option<Lease> {
        let mut held = self.held();
        if held.get(&partition).is_some_and(|h| h.lease.token == token) {
            let h = held.remove(&partition)?;
            h.state.revoked.store(true, Ordering::Release);
            Some(h.lease)
        } else {
            None
        }
    }
}

/// A running lease claimer.
///
/// It heartbeats its node, claims up to its fair share `ceil(partitions / live nodes)`, renews
/// every `renew_interval`, takes over leases whose owner stopped renewing (after their TTL),
/// and gives up surplus when nodes join. Every change is a [`LeaseEvent`] on the receiver
/// returned by [`Leases::start`] and a log line.
///
/// Dropping `Leases` stops the claimer without releasing (the leases expire after their TTL);
/// call [`Leases::shutdown`] to hand them over at once.
pub struct Leases {
    shared: Arc<Shared>,
    redis: ConnectionManager,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("group", &self.shared.config.group)
            .field("node_id", &self.shared.config.node_id)
            .field("held", &self.held())
            .finish_non_exhaustive()
    }
}

impl Leases {
    /// Starts claiming. The first round runs before this returns, so [`Leases::held`] is
    /// already filled when partitions were free.
    ///
    /// # Errors
    /// [`CoordErrorKind::InvalidConfig`] for a configuration that cannot work, and
    /// [`CoordErrorKind::Redis`] when the first round fails (later failures are retried and
    /// logged).
    pub async fn start(
        redis: ConnectionManager,
        config: LeaseConfig,
    ) -> Result<(Leases, mpsc::Receiver<LeaseEvent>), CoordError> {
        config.validate()?;
        let (tx, mut urx) = mpsc::unbounded_channel();
        let capacity = usize::try_from(config.partitions)
            .unwrap_or(1024)
            .saturating_mul(4)
            .clamp(64, 65_536);
        let (btx, brx) = mpsc::channel(capacity);
        // Forwards in order into the bounded receiver the API promises, so a slow reader never
        // delays renewals.
        tokio::spawn(async move {
            while let Some(ev) = urx.recv().await {
                if btx.send(ev).await.is_err() {
                    break;
                }
            }
        });
        let shared = Arc::new(Shared {
            config,
            base: Instant::now(),
            held: Mutex::new(BTreeMap::new()),
            events: tx,
            live_nodes: AtomicU64::new(0),
        });
        let mut conn = redis.clone();
        tick(&shared, &mut conn).await?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(shared.clone(), conn, stop_rx));
        Ok((
            Leases {
                shared,
                redis,
                stop,
                task: Some(task),
            },
            brx,
        ))
    }

    /// The leases held now, by partition.
    pub fn held(&self) -> Vec<Lease> {
        self.shared.held().values().map(|h| h.lease).collect()
    }

    /// A guard for the lease on `partition`, if held.
    pub fn guard(&self, partition: u32) -> Option<LeaseGuard> {
        self.shared.held().get(&partition).map(|h| LeaseGuard {
            lease: h.lease,
            state: h.state.clone(),
        })
    }

    /// Live nodes in the group at the last round.
    pub fn live_nodes(&self) -> u64 {
        self.shared.live_nodes.load(Ordering::Relaxed)
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.shared.config.node_id
    }

    /// The configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.shared.config
    }

    /// Gives up the lease on `partition` (a [`LeaseEvent::Released`] follows). The claimer may
    /// claim it again in a later round if it is still free and within the fair share.
    ///
    /// # Errors
    /// [`CoordErrorKind::NoSuchPartition`], or [`CoordErrorKind::Redis`] when Redis fails (the
    /// lease then expires after its TTL).
    pub async fn release(&self, partition: u32) -> Result<(), CoordError> {
        let partitions = self.shared.config.partitions;
        if partition >= partitions {
            return Err(CoordError::new(CoordErrorKind::NoSuchPartition {
                partition,
                partitions,
            }));
        }
        let Some(lease) = self.shared.held().get(&partition).map(|h| h.lease) else {
            return Ok(());
        };
        release_one(&self.shared, &mut self.redis.clone(), lease).await
    }

    /// Stops claiming and releases every lease, so other nodes take over at once, and leaves
    /// the live-node set.
    ///
    /// # Errors
    /// [`CoordErrorKind::Redis`] when Redis fails; the leases then expire after their TTL.
    pub async fn shutdown(mut self) -> Result<(), CoordError> {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let mut conn = self.redis.clone();
        let leases = self.held();
        let mut result = Ok(());
        for lease in leases {
            if let Err(e) = release_one(&self.shared, &mut conn, lease).await {
                result = Err(e);
            }
        }
        let c = &self.shared.config;
        let left: Result<(), redis::RedisError> = redis::cmd("ZREM")
            .arg(keys::nodes_key(&c.key_prefix, &c.group))
            .arg(&c.node_id)
            .query_async(&mut conn)
            .await;
        if let Err(e) = left {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "could not leave the live-node set; it expires after the TTL"
            );
        }
        result
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn release_one(
    shared: &Shared,
    conn: &mut ConnectionManager,
    lease: Lease,
) -> Result<(), CoordError> {
    let c = &shared.config;
    // Stop local work first: the guard turns invalid before the lease is free for others.
    let removed = shared.remove(lease.partition, lease.token);
    let res: Result<i64, _> = scripts::RELEASE
        .key(keys::lease_key(&c.key_prefix, &c.group, lease.partition))
        .arg(&c.node_id)
        .arg(lease.token.to_string())
        .invoke_async(conn)
        .await;
    if let Some(lease) = removed {
        shared.emit(LeaseEvent::Released(lease));
    }
    res.map(|_| ())
        .map_err(|e| CoordError::redis("releasing a lease", e))
}

async fn run(shared: Arc<Shared>, mut conn: ConnectionManager, mut stop: watch::Receiver<bool>) {
    let interval = shared.config.renew_interval;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if *stop.borrow() {
            return;
        }
        if let Err(e) = tick(&shared, &mut conn).await {
            tracing::warn!(group = %shared.config.group, error = &e as &dyn std::error::Error, "lease round failed; retrying");
            expire_overdue(&shared);
        }
    }
}

/// Drops leases whose TTL has passed without a successful renewal.
fn expire_overdue(shared: &Shared) {
    let now = elapsed_ms(shared.base);
    let overdue: Vec<Lease> = shared
        .held()
        .values()
        .filter(|h| h.state.valid_until_ms.load(Ordering::Acquire) <= now)
        .map(|h| h.lease)
        .collect();
    for lease in overdue {
        if let Some(lease) = shared.remove(lease.partition, lease.token) {
            shared.emit(LeaseEvent::Lost(lease));
        }
    }
}

type TickReply = (u64, u64, Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>);

async fn tick(shared: &Shared, conn: &mut ConnectionManager) -> Result<(), CoordError> {
    let c = &shared.config;
    // A lease renewed by this round is valid for at least the TTL counted from now (the server
    // sets the expiry after it receives the command); keep a 10 % margin.
    let sent_ms = elapsed_ms(shared.base);
    let ttl_ms = u64::try_from(c.ttl.as_millis()).unwrap_or(u64::MAX);
    let valid_until = sent_ms.saturating_add(ttl_ms - ttl_ms / 10);
    // A round that was sent after a pause past the TTL must not revive local work.
    expire_overdue(shared);
    let held: Vec<Lease> = shared.held().values().map(|h| h.lease).collect();
    let mut inv = scripts::TICK.key(keys::nodes_key(&c.key_prefix, &c.group));
    for p in 0..c.partitions {
        inv.key(keys::lease_key(&c.key_prefix, &c.group, p));
        inv.key(keys::token_key(&c.key_prefix, &c.group, p));
    }
    let offset = node_offset(&c.node_id, c.partitions);
    inv.arg(&c.node_id)
        .arg(ttl_ms)
        .arg(c.partitions)
        .arg(offset)
        .arg(if c.handover { "1" } else { "0" });
    for l in &held {
        inv.arg(l.partition).arg(l.token.to_string());
    }
    let reply = tokio::time::timeout(c.renew_interval.max(Duration::from_millis(50)), async {
        inv.invoke_async::<TickReply>(conn).await
    })
    .await;
    let (live, _share, kept, lost, released, acquired, surplus) = match reply {
        Err(_) => {
            return Err(CoordError::new(CoordErrorKind::Timeout {
                context: "renewing leases",
            }));
        }
        Ok(Err(e)) => return Err(CoordError::redis("renewing leases", e)),
        Ok(Ok(r)) => r,
    };
    shared.live_nodes.store(live, Ordering::Relaxed);
    for pair in kept.chunks_exact(2) {
        if let Some(h) = shared.held().get(&(pair[0] as u32)) {
            h.state.valid_until_ms.store(valid_until, Ordering::Release);
        }
    }
    for pair in lost.chunks_exact(2) {
        if let Some(lease) = shared.remove(pair[0] as u32, pair[1]) {
            shared.emit(LeaseEvent::Lost(lease));
        }
    }
    for pair in released.chunks_exact(2) {
        if let Some(lease) = shared.remove(pair[0] as u32, pair[1]) {
            shared.emit(LeaseEvent::Released(lease));
        }
    }
    let mut overdue = Vec::new();
    for pair in surplus.chunks_exact(2) {
        let mut held = shared.held();
        let Some(h) = held
            .get_mut(&(pair[0] as u32))
            .filter(|h| h.lease.token == pair[1])
        else {
            continue;
        };
        match h.surplus_since {
            None => {
                h.surplus_since = Some(Instant::now());
                let lease = h.lease;
                drop(held);
                shared.emit(LeaseEvent::Surplus(lease));
            }
            Some(since) if since.elapsed() >= HANDOVER_TIMEOUT => overdue.push(h.lease),
            Some(_) => {}
        }
    }
    for pair in acquired.chunks_exact(2) {
        let lease = Lease {
            partition: pair[0] as u32,
            token: pair[1],
        };
        let state = Arc::new(GuardState {
            base: shared.base,
            valid_until_ms: AtomicU64::new(valid_until),
            revoked: AtomicBool::new(false),
        });
        shared.held().insert(
            lease.partition,
            Held {
                lease,
                state,
                surplus_since: None,
            },
        );
        shared.emit(LeaseEvent::Acquired(lease));
    }
    // Last, so that a failure here never loses track of the leases this round acquired.
    for lease in overdue {
        tracing::warn!(group = %c.group, partition = lease.partition, "lease not handed over within {HANDOVER_TIMEOUT:?}; releasing it");
        if let Err(e) = release_one(shared, conn, lease).await {
            tracing::warn!(group = %c.group, partition = lease.partition, error = &e as &dyn std::error::Error, "could not release the lease; it expires after its TTL");
        }
    }
    Ok(())
}

/// Where this node starts looking for free partitions, so nodes starting together spread out.
fn node_offset(node_id: &str, partitions: u32) -> u32 {
    // FNV-1a: stable across processes and Rust versions.
    let mut h: u32 = 0x811c_9dc5;
    for b in node_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % partitions.max(1)
}
