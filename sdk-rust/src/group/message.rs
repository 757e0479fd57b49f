//! A message handed to a group member.

use tokio::sync::mpsc;

use super::error::GroupError;
use super::transport::Delivery;
use crate::coord::Lease;
use crate::envelope::Envelope;

/// A message returned for another delivery ([`GroupMessage::nack`]).
pub(crate) struct Retry {
    pub(crate) delivery: Delivery,
    pub(crate) envelope: Envelope,
    pub(crate) deliveries: u32,
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
    /// ([`crate::coord::Fence`]) so a member that lost the partition writes nothing.
    pub lease: Lease,
    /// The broker delivered it before without an ack (a previous owner crashed or lost the
    /// partition mid-work).
    pub redelivered: bool,
    /// Deliveries to this member so far, 1 on the first (nacks add one).
    pub deliveries: u32,
    pub(crate) delivery: Option<Delivery>,
    pub(crate) retry: mpsc::UnboundedSender<Retry>,
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
    /// [`GroupError::Mesh`] when the ack could not be sent (the message will be redelivered;
    /// work must be idempotent).
    pub async fn ack(mut self) -> Result<(), GroupError> {
        match self.delivery.take() {
            Some(d) => (d.ack)().await,
            None => Ok(()),
        }
    }

    /// Gives the message back for another delivery after the group's retry delay; after
    /// `max_deliveries` it goes to the dead-letter topic and is acknowledged. Retried messages
    /// may come after later ones of the same partition.
    ///
    /// # Errors
    /// [`GroupError::Closed`] when the partition is no longer held here (the broker redelivers
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
        self.retry.send(retry).map_err(|_| GroupError::Closed)
    }
}
