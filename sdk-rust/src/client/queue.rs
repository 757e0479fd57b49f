//! Work queues: a consumer group ([`crate::group`]) over the client's mesh and Redis, its
//! messages handed out as [`Job`]s carrying an [`Event`].

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt as _};

use super::error::{ClientError, ClientErrorKind};
use super::event::Event;
use crate::group::{ConsumerGroup, GroupError, GroupMessage};
use crate::topic::Topics;

/// Options of [`Client::consume_with`](super::Client::consume_with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOptions {
    /// Deliveries of a nacked job before it goes to the dead-letter topic
    /// `<root>-dead/<group>/<shard>` (default 5).
    pub max_deliveries: u32,
    /// Wait before a nacked job is delivered again (default 1 s).
    pub retry_delay: Duration,
    /// How long a crashed replica's partitions wait before another replica takes them over
    /// (default 10 s).
    pub lease_ttl: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            max_deliveries: 5,
            retry_delay: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(10),
        }
    }
}

/// One event of a work queue, handed to exactly one replica at a time (at-least-once: after a
/// crash or a lost partition it is delivered again, with [`Job::redelivered`] set).
///
/// Call [`Job::ack`] after the work is done, or [`Job::nack`] to have it delivered again;
/// dropping it unacknowledged leaves it with the broker until the partition's session
/// reconnects.
#[derive(Debug)]
pub struct Job {
    event: Event,
    message: GroupMessage,
}

impl Job {
    /// The event to work on.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Deliveries of this job to this replica so far (1 on the first; nacks add one).
    pub fn deliveries(&self) -> u32 {
        self.message.deliveries
    }

    /// The broker delivered it before without an ack (an earlier owner crashed mid-work).
    pub fn redelivered(&self) -> bool {
        self.message.redelivered
    }

    /// The partition (shard) it belongs to.
    pub fn partition(&self) -> u32 {
        self.message.partition
    }

    /// Acknowledges the job: the broker forgets it.
    ///
    /// # Errors
    /// [`ClientErrorKind::Group`] when the ack could not be sent (the job will be delivered
    /// again; make the work idempotent).
    pub async fn ack(self) -> Result<(), ClientError> {
        self.message
            .ack()
            .await
            .map_err(|e| group_error("acking a job", e))
    }

    /// Gives the job back for another delivery after the retry delay; after
    /// `max_deliveries` it goes to the dead-letter topic `<root>-dead/<group>/<shard>`.
    ///
    /// # Errors
    /// [`ClientErrorKind::Group`] when the partition moved to another replica (which gets the
    /// job from the broker).
    pub fn nack(self) -> Result<(), ClientError> {
        metrics::counter!("ddiscord_client_jobs_nacked_total").increment(1);
        self.message
            .nack()
            .map_err(|e| group_error("nacking a job", e))
    }
}

pub(crate) fn group_error(action: &str, e: GroupError) -> ClientError {
    ClientError::with_source(
        ClientErrorKind::Group {
            action: action.to_owned(),
        },
        e,
    )
}

/// The jobs of one replica of a work queue (see [`Client::consume`](super::Client::consume)).
/// A message that is not an event is counted (`ddiscord_client_malformed_total`), logged and
/// acknowledged, so it does not come back.
pub struct WorkQueue {
    topics: Topics,
    group: ConsumerGroup,
}

impl std::fmt::Debug for WorkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueue")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl WorkQueue {
    pub(crate) fn new(topics: Topics, group: ConsumerGroup) -> Self {
        Self { topics, group }
    }

    /// The partitions (shards) this replica holds now.
    pub fn partitions(&self) -> Vec<u32> {
        self.group.held().iter().map(|l| l.partition).collect()
    }

    /// Leaves the queue: other replicas take the partitions over at once; unacknowledged jobs
    /// stay with the broker for them. (`close()` in Python and Node too.)
    ///
    /// # Errors
    /// [`ClientErrorKind::Group`] when releasing the leases fails (they then expire).
    pub async fn close(self) -> Result<(), ClientError> {
        self.group
            .shutdown()
            .await
            .map_err(|e| group_error("leaving the work queue", e))
    }
}

impl Stream for WorkQueue {
    type Item = Job;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Job>> {
        loop {
            let Some(message) = std::task::ready!(self.group.poll_next_unpin(cx)) else {
                return Poll::Ready(None);
            };
            match Event::from_envelope(
                &self.topics,
                message.topic.clone(),
                message.envelope.clone(),
            ) {
                Ok(event) => return Poll::Ready(Some(Job { event, message })),
                Err(e) => {
                    metrics::counter!("ddiscord_client_malformed_total").increment(1);
                    tracing::warn!(topic = %message.topic, error = &e as &dyn std::error::Error, "acking a work-queue message that is not a DDiscord event");
                    tokio::spawn(async move {
                        let _ = message.ack().await;
                    });
                }
            }
        }
    }
}
