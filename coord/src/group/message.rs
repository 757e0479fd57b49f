//! A message handed to a group member.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::error::{GroupError, GroupErrorKind};
use super::transport::Delivery;
use crate::Lease;
use ddiscord_model::envelope::Envelope;

/// A message returned for another delivery ([`GroupMessage::nack`]).
pub(crate) struct Retry {
    pub(crate) delivery: Delivery,
    pub(crate) envelope: Envelope,
    pub(crate) deliveries: u32,
}

/// Where a message's failed deliveries are counted in Redis: field `field` of the hash `key`
/// (`{prefix}deliveries:{group}:{shard}`, field `{session}:{sequence}`), so that the count
/// survives a consumer that crashes on the message. Cleared by the ack.
#[derive(Clone)]
pub(crate) struct Counted {
    pub(crate) redis: redis::aio::ConnectionManager,
    pub(crate) key: String,
    pub(crate) field: String,
}

impl Counted {
    /// Forgets the count (after an ack or a dead letter); failures only leave a stale field
    /// that expires with the hash.
    pub(crate) async fn clear(mut self) {
        let result: Result<(), redis::RedisError> = redis::cmd("HDEL")
            .arg(&self.key)
            .arg(&self.field)
            .query_async(&mut self.redis)
            .await;
        if let Err(e) = result {
            tracing::debug!(key = %self.key, error = &e as &dyn std::error::Error, "could not clear a delivery count");
        }
    }
}

/// Takes back one count from each field in `tallies` (all of one Redis), in one script call: the
/// deliveries were abandoned, not failed, so the redelivery each will see does not count. A count
/// that reaches 0 or below is removed, never kept negative: the count of a message abandoned
/// every time stays at most 1, and nothing is left behind for a message that is not delivered
/// again (its redelivery was already counted and acknowledged).
async fn uncount(tallies: Vec<Counted>) {
    static UNCOUNT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
        redis::Script::new(
            r"
for i, key in ipairs(KEYS) do
  if redis.call('HINCRBY', key, ARGV[i], -1) <= 0 then
    redis.call('HDEL', key, ARGV[i])
  end
end
return 0
",
        )
    });
    let Some(first) = tallies.first() else {
        return;
    };
    let mut redis = first.redis.clone();
    let mut invocation = UNCOUNT.prepare_invoke();
    for t in &tallies {
        invocation.key(&t.key).arg(&t.field);
    }
    let result: Result<i64, redis::RedisError> = invocation.invoke_async(&mut redis).await;
    if let Err(e) = result {
        tracing::warn!(
            messages = tallies.len(),
            error = &e as &dyn std::error::Error,
            "could not take back the delivery counts of abandoned messages; their redelivery counts as a failure"
        );
    }
}

/// One dispatch of the group's partition, to be acknowledged after the work is done.
///
/// Dropping it without [`ack`](Self::ack) leaves it unacknowledged: the broker redelivers it
/// when the partition's session next connects (after a crash, or on another member).
pub struct GroupMessage {
    /// The dispatch.
    pub envelope: Envelope,
    /// The topic it was published on.
    pub topic: String,
    /// The partition (shard) it belongs to.
    pub partition: u32,
    /// The lease under which it was received; fence writes with it
    /// ([`crate::Fence`]) so a member that lost the partition writes nothing.
    pub lease: Lease,
    /// The broker delivered it before without an ack (a previous owner crashed or lost the
    /// partition mid-work).
    pub redelivered: bool,
    /// Deliveries so far, 1 on the first: every nack and every redelivery after a consumer
    /// stopped without an ack (a crash) adds one. Kept in Redis for messages with a session and
    /// sequence, so the count survives crashes and moves with the partition.
    pub deliveries: u32,
    pub(crate) delivery: Option<Delivery>,
    pub(crate) retry: mpsc::UnboundedSender<Retry>,
    /// Set when a failed delivery of this message is counted in Redis.
    pub(crate) counted: Option<Counted>,
    /// The hash of its partition's delivery counts, shared by every message of the partition
    /// (the field is derived from the envelope only when [`GroupMessage::abandon`] needs it).
    pub(crate) counts: Arc<PartitionCounts>,
}

/// The Redis hash holding one partition's delivery counts, `{prefix}deliveries:{group}:{shard}`.
pub(crate) struct PartitionCounts {
    pub(crate) redis: redis::aio::ConnectionManager,
    pub(crate) key: String,
}

impl std::fmt::Debug for GroupMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMessage")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("lease", &self.lease)
            .field("redelivered", &self.redelivered)
            .field("deliveries", &self.deliveries)
            .finish_non_exhaustive()
    }
}

impl GroupMessage {
    /// Acknowledges the message: the broker forgets it.
    ///
    /// # Errors
    /// [`GroupErrorKind::Mesh`] when the ack could not be sent (the message will be redelivered;
    /// work must be idempotent).
    pub async fn ack(mut self) -> Result<(), GroupError> {
        let result = match self.delivery.take() {
            Some(d) => (d.ack)().await,
            None => Ok(()),
        };
        if result.is_ok()
            && let Some(counted) = self.counted.take()
        {
            counted.clear().await;
        }
        result
    }

    /// Gives the message back without having worked on it, because the partition was lost
    /// (a fenced write) or the consumer is stopping: it stays unacknowledged, the broker
    /// delivers it again to the partition's next owner, and that delivery does not count
    /// towards `max_deliveries` (only deliveries that ended in a crash or a nack do). Without
    /// this, a partition that changes hands often would dead-letter healthy messages.
    pub async fn abandon(self) {
        Self::abandon_all(vec![self]).await;
    }

    /// [`GroupMessage::abandon`] for many messages, in one Redis round trip.
    pub async fn abandon_all(messages: Vec<GroupMessage>) {
        let tallies: Vec<Counted> = messages
            .into_iter()
            .filter_map(|m| {
                let (session, seq) = (m.envelope.session()?, m.envelope.sequence()?);
                Some(Counted {
                    redis: m.counts.redis.clone(),
                    key: m.counts.key.clone(),
                    field: format!("{session}:{seq}"),
                })
            })
            .collect();
        uncount(tallies).await;
    }

    /// Gives the message back for another delivery after the group's retry delay; after
    /// `max_deliveries` it goes to the dead-letter topic and is acknowledged. Retried messages
    /// may come after later ones of the same partition.
    ///
    /// # Errors
    /// [`GroupErrorKind::Closed`] when the partition is no longer held here (the broker redelivers
    /// the message to the new owner).
    pub fn nack(mut self) -> Result<(), GroupError> {
        let Some(delivery) = self.delivery.take() else {
            return Ok(());
        };
        let retry = Retry {
            delivery,
            envelope: self.envelope.clone(),
            deliveries: self.deliveries,
        };
        self.retry
            .send(retry)
            .map_err(|_| GroupError::new(GroupErrorKind::Closed))
    }
}
