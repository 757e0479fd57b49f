//! A member of a consumer group: claims partitions through the Redis leases and runs one
//! durable session per claimed partition.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use redis::aio::ConnectionManager;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use super::config::GroupConfig;
use super::error::GroupError;
use super::message::{Counted, GroupMessage, PartitionCounts, Retry};
use super::transport::{Delivery, DurableSource};
use crate::{Lease, LeaseConfig, LeaseEvent, Leases};
use ddiscord_model::envelope::Envelope;
use ddiscord_model::topic::Topics;

/// A member of a consumer group: a [`Stream`] of the [`GroupMessage`]s of the partitions it
/// holds, each partition in publish order.
///
/// Members with the same [`GroupConfig::name`] share the partitions (shards): each member
/// claims its fair share through the same Redis leases as ingest (group `group:<name>`), and
/// each claimed partition is one persistent at-least-once session `<name>-<shard>` on the
/// mesh. A member that dies stops renewing; after the lease TTL another member claims the
/// partition and resumes its session, receiving every unacknowledged message. With more
/// members than partitions the extra members are hot standbys.
///
/// On join the member registers the group in Redis ([`crate::GroupRegistry`]): ingest
/// then creates the group's session of each shard before that shard publishes anything, so a
/// group registered before ingest starts misses nothing. A group registered while shards are
/// already publishing starts from "now". The member also creates the session of every
/// partition nobody holds (open and close), so the broker keeps messages for partitions before
/// anyone claims them.
pub struct ConsumerGroup {
    rx: mpsc::Receiver<GroupMessage>,
    leases: Arc<Mutex<Option<Leases>>>,
    held: Arc<std::sync::Mutex<Vec<Lease>>>,
    driver: JoinHandle<()>,
}

impl std::fmt::Debug for ConsumerGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerGroup")
            .field("held", &self.held())
            .finish_non_exhaustive()
    }
}

impl ConsumerGroup {
    /// Joins the group described by `config` over `source` (the mesh) and `redis` (leases).
    ///
    /// # Errors
    /// [`GroupErrorKind::InvalidConfig`](super::GroupErrorKind::InvalidConfig), [`GroupErrorKind::Leases`](super::GroupErrorKind::Leases) when Redis fails on the
    /// first round, [`GroupErrorKind::Mesh`](super::GroupErrorKind::Mesh) when a session cannot be created.
    pub async fn join<S: DurableSource>(
        source: S,
        redis: ConnectionManager,
        config: GroupConfig,
    ) -> Result<Self, GroupError> {
        config.validate()?;
        let lease_config = LeaseConfig {
            key_prefix: config.key_prefix.clone(),
            group: config.lease_group(),
            partitions: config.partitions,
            node_id: config.node_id.clone(),
            ttl: config.lease_ttl,
            renew_interval: config.lease_ttl / 3,
            // A partition's unacked messages stay with the broker: dropping it at once is safe.
            handover: false,
        };
        lease_config.validate()?;
        register(&mut redis.clone(), &config).await?;
        precreate_sessions(&source, &mut redis.clone(), &config).await?;
        let (leases, events) = Leases::start(redis.clone(), lease_config).await?;
        let (tx, rx) = mpsc::channel(config.capacity);
        let held = Arc::new(std::sync::Mutex::new(Vec::new()));
        let driver = tokio::spawn(drive(
            source,
            redis,
            Arc::new(config),
            events,
            tx,
            held.clone(),
        ));
        Ok(Self {
            rx,
            leases: Arc::new(Mutex::new(Some(leases))),
            held,
            driver,
        })
    }

    /// The partitions this member runs sessions for now.
    pub fn held(&self) -> Vec<Lease> {
        self.held
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Leaves the group: closes the sessions (unacknowledged messages stay with the broker)
    /// and releases the leases, so other members take the partitions over at once.
    ///
    /// # Errors
    /// [`GroupErrorKind::Leases`](super::GroupErrorKind::Leases) when the release fails (the leases then expire after their TTL).
    pub async fn shutdown(mut self) -> Result<(), GroupError> {
        self.driver.abort();
        let _ = (&mut self.driver).await;
        if let Some(leases) = self.leases.lock().await.take() {
            leases.shutdown().await?;
        }
        Ok(())
    }
}

impl Drop for ConsumerGroup {
    /// Stops the sessions at once, like a crash: the leases are not released (they expire
    /// after their TTL) and unacknowledged messages are redelivered to the next owner.
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Stream for ConsumerGroup {
    type Item = GroupMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<GroupMessage>> {
        self.rx.poll_recv(cx)
    }
}

/// Registers the group ([`crate::GroupRegistry`]), so that ingest creates its sessions
/// before any shard's first publish from now on.
async fn register(redis: &mut ConnectionManager, config: &GroupConfig) -> Result<(), GroupError> {
    let new =
        crate::GroupRegistry::register(redis, &config.key_prefix, &config.name, &config.pattern)
            .await
            .map_err(GroupError::from)?;
    if new {
        tracing::info!(
            group = %config.name,
            pattern = %config.pattern.as_str(),
            "consumer group registered: ingest creates its durable sessions before each shard's first publish; shards already publishing deliver to it from now on"
        );
    }
    Ok(())
}

/// Creates the durable session of every partition whose lease nobody holds.
async fn precreate_sessions<S: DurableSource>(
    source: &S,
    redis: &mut ConnectionManager,
    config: &GroupConfig,
) -> Result<(), GroupError> {
    for shard in 0..config.partitions {
        let key = crate::keys::lease_key(&config.key_prefix, &config.lease_group(), shard);
        let held: bool = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(redis)
            .await
            .map_err(|e| GroupError::from(crate::CoordError::from_redis("checking a lease", e)))?;
        if held {
            continue;
        }
        let pattern = config.partition_pattern(shard)?;
        source
            .create(&config.session_name(shard), &[pattern])
            .await?;
    }
    Ok(())
}

async fn drive<S: DurableSource>(
    source: S,
    redis: ConnectionManager,
    config: Arc<GroupConfig>,
    mut events: mpsc::Receiver<LeaseEvent>,
    tx: mpsc::Sender<GroupMessage>,
    held: Arc<std::sync::Mutex<Vec<Lease>>>,
) {
    /// Aborts every partition task when the driver ends or is aborted.
    struct Tasks(HashMap<u32, (Lease, JoinHandle<()>)>);
    impl Drop for Tasks {
        fn drop(&mut self) {
            for (_, (_, task)) in self.0.drain() {
                task.abort();
            }
        }
    }
    let mut tasks = Tasks(HashMap::new());
    let group = config.name.clone();
    while let Some(event) = events.recv().await {
        match event {
            LeaseEvent::Acquired(lease) => {
                tracing::info!(group = %config.name, partition = lease.partition, token = lease.token, "partition acquired; resuming its durable session");
                let task = tokio::spawn(run_partition(
                    source.clone(),
                    redis.clone(),
                    config.clone(),
                    lease,
                    tx.clone(),
                ));
                if let Some((_, old)) = tasks.0.insert(lease.partition, (lease, task)) {
                    old.abort();
                }
            }
            // `Surplus` is not sent without `handover`; were it, the claimer would release the
            // lease after `HANDOVER_TIMEOUT`.
            LeaseEvent::Lost(lease) | LeaseEvent::Released(lease) | LeaseEvent::Surplus(lease) => {
                tracing::warn!(group = %config.name, partition = lease.partition, ?event, "partition given up; closing its session (unacked messages stay with the broker)");
                if let Some((_, task)) = tasks.0.remove(&lease.partition) {
                    task.abort();
                }
            }
        }
        let mut leases: Vec<Lease> = tasks.0.values().map(|(l, _)| *l).collect();
        leases.sort_by_key(|l| l.partition);
        metrics::gauge!("ddiscord_group_partitions_held", "group" => group.clone())
            .set(leases.len() as f64);
        if let Ok(mut h) = held.lock() {
            *h = leases;
        }
    }
}

/// Runs the durable session of one partition while its lease is held (aborted on loss).
async fn run_partition<S: DurableSource>(
    source: S,
    redis: ConnectionManager,
    config: Arc<GroupConfig>,
    lease: Lease,
    tx: mpsc::Sender<GroupMessage>,
) {
    let (retry_tx, mut retry_rx) = mpsc::unbounded_channel::<Retry>();
    let name = config.session_name(lease.partition);
    let labels = [("group", config.name.clone())];
    let counts = Arc::new(PartitionCounts {
        redis: redis.clone(),
        key: crate::keys::deliveries_key(&config.key_prefix, &config.name, lease.partition),
    });
    let mut backoff = Duration::from_millis(100);
    loop {
        let pattern = match config.partition_pattern(lease.partition) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "partition pattern invalid"
                );
                return;
            }
        };
        let mut stream = match source.open(&name, &[pattern]).await {
            Ok(s) => s,
            Err(e) => {
                metrics::counter!("ddiscord_group_session_retries_total", &labels).increment(1);
                tracing::warn!(session = %name, error = &e as &dyn std::error::Error, retry_in_ms = backoff.as_millis() as u64, "opening the durable session failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        loop {
            tokio::select! {
                delivery = stream.next() => {
                    let Some(delivery) = delivery else { break };
                    let Some(message) = into_message(&source, &redis, &config, &counts, lease, delivery, &retry_tx).await else {
                        continue;
                    };
                    if tx.send(message).await.is_err() {
                        return;
                    }
                }
                Some(retry) = retry_rx.recv() => {
                    if let Some(message) = redeliver(&source, &redis, &config, &counts, lease, retry, &retry_tx).await
                        && tx.send(message).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
        tracing::warn!(session = %name, "durable session ended; reopening");
        metrics::counter!("ddiscord_group_session_retries_total", &labels).increment(1);
        tokio::time::sleep(backoff).await;
    }
}

/// How long a partition's delivery counts are kept without any change (the broker's session
/// expiry): 7 days, in seconds.
const COUNTS_TTL_SECS: u64 = 7 * 24 * 3600;

/// Counts one failed delivery of `envelope` in Redis; returns the failed deliveries so far and
/// where they are counted. `None` for a message without session and sequence, or when Redis
/// fails (then the count is this member's own, logged).
async fn count_failure(
    redis: &ConnectionManager,
    config: &GroupConfig,
    partition: u32,
    envelope: &Envelope,
) -> Option<(u32, Counted)> {
    let (Some(session), Some(seq)) = (envelope.session(), envelope.sequence()) else {
        return None;
    };
    let counted = Counted {
        redis: redis.clone(),
        key: crate::keys::deliveries_key(&config.key_prefix, &config.name, partition),
        field: format!("{session}:{seq}"),
    };
    let mut conn = redis.clone();
    let result: Result<(u32, ()), redis::RedisError> = redis::pipe()
        .cmd("HINCRBY")
        .arg(&counted.key)
        .arg(&counted.field)
        .arg(1)
        .cmd("EXPIRE")
        .arg(&counted.key)
        .arg(COUNTS_TTL_SECS)
        .ignore()
        .query_async(&mut conn)
        .await
        .map(|(n,): (u32,)| (n, ()));
    match result {
        Ok((n, ())) => Some((n, counted)),
        Err(e) => {
            tracing::warn!(group = %config.name, partition, error = &e as &dyn std::error::Error, "could not count a failed delivery in Redis; counting in this member only");
            None
        }
    }
}

async fn into_message<S: DurableSource>(
    source: &S,
    redis: &ConnectionManager,
    config: &GroupConfig,
    counts: &Arc<PartitionCounts>,
    lease: Lease,
    delivery: Delivery,
    retry: &mpsc::UnboundedSender<Retry>,
) -> Option<GroupMessage> {
    match Envelope::parse(delivery.payload.clone()) {
        Ok(envelope) => {
            // A redelivery means an earlier delivery ended without an ack: the consumer
            // crashed, or lost the partition, while working on it.
            let (deliveries, counted) = if delivery.redelivered {
                match count_failure(redis, config, lease.partition, &envelope).await {
                    Some((failed, counted)) => (failed.saturating_add(1), Some(counted)),
                    None => (1, None),
                }
            } else {
                (1, None)
            };
            if deliveries > config.max_deliveries {
                let detail = format!(
                    "delivered {deliveries} times without an ack (consumers stopped while handling it); max_deliveries is {}",
                    config.max_deliveries
                );
                dead_letter(
                    source,
                    redis,
                    config,
                    lease.partition,
                    delivery,
                    "redelivered_too_often",
                    &detail,
                )
                .await;
                if let Some(c) = counted {
                    c.clear().await;
                }
                return None;
            }
            Some(GroupMessage {
                envelope,
                topic: delivery.topic.clone(),
                partition: lease.partition,
                lease,
                redelivered: delivery.redelivered,
                deliveries,
                delivery: Some(delivery),
                retry: retry.clone(),
                counted,
                counts: counts.clone(),
            })
        }
        Err(e) => {
            // Malformed: never handed out, never blocks the partition.
            metrics::counter!("ddiscord_group_malformed_total", "group" => config.name.clone())
                .increment(1);
            let detail = format!("not an envelope: {e}");
            dead_letter(
                source,
                redis,
                config,
                lease.partition,
                delivery,
                "not_an_envelope",
                &detail,
            )
            .await;
            None
        }
    }
}

async fn redeliver<S: DurableSource>(
    source: &S,
    redis: &ConnectionManager,
    config: &GroupConfig,
    counts: &Arc<PartitionCounts>,
    lease: Lease,
    retry: Retry,
    retry_tx: &mpsc::UnboundedSender<Retry>,
) -> Option<GroupMessage> {
    let labels = [("group", config.name.clone())];
    // The nack is a failed delivery: counted where it survives a crash.
    let (failed, counted) =
        match count_failure(redis, config, lease.partition, &retry.envelope).await {
            Some((n, c)) => (n, Some(c)),
            None => (retry.deliveries, None),
        };
    if failed >= config.max_deliveries {
        let detail = format!(
            "failed {failed} deliveries (nacked); max_deliveries is {}",
            config.max_deliveries
        );
        dead_letter(
            source,
            redis,
            config,
            lease.partition,
            retry.delivery,
            "max_deliveries",
            &detail,
        )
        .await;
        if let Some(c) = counted {
            c.clear().await;
        }
        return None;
    }
    metrics::counter!("ddiscord_group_retries_total", &labels).increment(1);
    tokio::time::sleep(config.retry_delay).await;
    Some(GroupMessage {
        envelope: retry.envelope,
        topic: retry.delivery.topic.clone(),
        partition: lease.partition,
        lease,
        redelivered: true,
        deliveries: failed.saturating_add(1),
        delivery: Some(retry.delivery),
        retry: retry_tx.clone(),
        counted,
        counts: counts.clone(),
    })
}

/// The dead-letter topic of a group's partition: `<root>-dead/<group>/<shard>`.
pub fn dead_letter_topic(config: &GroupConfig, shard: u32) -> String {
    let root = config
        .pattern
        .as_str()
        .split('/')
        .next()
        .unwrap_or("discord");
    // A root that is a wildcard falls back to the contract's default root; a group name that
    // is not a valid level keeps the plain format (the broker then refuses it, and the failure
    // is counted as a dead-letter failure).
    let topics = Topics::new(root).unwrap_or_default();
    topics.dead_letter(&config.name, shard).map_or_else(
        |_| format!("{root}-dead/{}/{shard}", config.name),
        |t| t.to_string(),
    )
}

/// Gives up on `delivery`: records it in the group's dead-letter stream in Redis (durable,
/// [`crate::DeadLetters`]), publishes a copy on `<root>-dead/<group>/<shard>` for live
/// watchers, then acknowledges it. `reason` is a stable snake_case name; `detail` goes to the
/// log.
async fn dead_letter<S: DurableSource>(
    source: &S,
    redis: &ConnectionManager,
    config: &GroupConfig,
    shard: u32,
    delivery: Delivery,
    reason: &str,
    detail: &str,
) {
    let letter = crate::DeadLetter {
        topic: delivery.topic.clone(),
        payload: delivery.payload.clone(),
        reason: reason.to_owned(),
        shard,
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let mut conn = redis.clone();
    if let Err(e) =
        crate::DeadLetters::record(&mut conn, &config.key_prefix, &config.name, &letter).await
    {
        // Not acked: the broker redelivers it on the session's next connect.
        metrics::counter!("ddiscord_group_dead_letter_failures_total", "group" => config.name.clone())
            .increment(1);
        tracing::error!(group = %config.name, error = &e as &dyn std::error::Error, "recording a dead letter failed; the message stays unacked");
        return;
    }
    metrics::counter!("ddiscord_group_dead_letters_total", "group" => config.name.clone())
        .increment(1);
    tracing::warn!(group = %config.name, shard, topic = %delivery.topic, reason, detail, "dead-lettered (see `ddiscord dead list`)");
    let topic = dead_letter_topic(config, shard);
    if let Err(e) = source.publish(&topic, delivery.payload.clone()).await {
        tracing::debug!(topic = %topic, error = &e as &dyn std::error::Error, "live copy of a dead letter not published (it is in Redis)");
    }
    if let Err(e) = (delivery.ack)().await {
        tracing::warn!(
            error = &e as &dyn std::error::Error,
            "ack after dead-lettering failed; it may be redelivered"
        );
    }
}
