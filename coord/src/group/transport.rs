//! What a consumer group needs from the mesh: durable sessions and guaranteed publishes.
//!
//! [`ddiscord_mesh::Mesh`] implements it; the trait keeps the group testable on its own and lets
//! the SDK bindings bring their own mesh handle.

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::error::GroupError;
use ddiscord_model::topic::{Topic, TopicPattern};

/// Acknowledges one delivery to the broker (after the work is done).
pub type Acker = Box<dyn FnOnce() -> BoxFuture<'static, Result<(), GroupError>> + Send>;

/// One message of a durable session, not yet acknowledged.
pub struct Delivery {
    /// The topic it was published on.
    pub topic: String,
    /// The body (an envelope).
    pub payload: Bytes,
    /// The broker delivered it before (to this or a previous owner) without an ack.
    pub redelivered: bool,
    /// Acknowledges it; an unacknowledged delivery is redelivered when the session reconnects.
    pub ack: Acker,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("topic", &self.topic)
            .field("bytes", &self.payload.len())
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

/// Durable, at-least-once sessions on the mesh.
pub trait DurableSource: Clone + Send + Sync + 'static {
    /// Opens (or resumes) the persistent session `name` subscribed to `patterns` at
    /// guaranteed delivery. Messages published while it was closed are delivered first;
    /// dropping the stream closes the session without deleting it.
    fn open(
        &self,
        name: &str,
        patterns: &[TopicPattern],
    ) -> BoxFuture<'static, Result<BoxStream<'static, Delivery>, GroupError>>;

    /// Creates the persistent session `name` on `patterns` (if it does not exist) and
    /// disconnects it cleanly, so the broker queues messages for it from now on.
    fn create(
        &self,
        name: &str,
        patterns: &[TopicPattern],
    ) -> BoxFuture<'static, Result<(), GroupError>>;

    /// Whether the connection to the broker is up right now (for readiness probes); `true`
    /// for sources that cannot tell.
    fn is_connected(&self) -> bool {
        true
    }

    /// Publishes with guaranteed delivery (used for dead letters).
    fn publish(&self, topic: &str, payload: Bytes) -> BoxFuture<'static, Result<(), GroupError>>;

    /// Publishes `messages` (topic, body) with guaranteed delivery so that the broker receives
    /// them in this order; resolves when each is acknowledged, with one result per message.
    /// The default publishes one after the other; [`ddiscord_mesh::Mesh`] queues them all in
    /// order and then waits for the acknowledgements together.
    fn publish_in_order(
        &self,
        messages: Vec<(Topic, Bytes)>,
    ) -> BoxFuture<'static, Vec<Result<(), GroupError>>> {
        let this = self.clone();
        Box::pin(async move {
            let mut results = Vec::with_capacity(messages.len());
            for (topic, body) in messages {
                results.push(this.publish(topic.as_str(), body).await);
            }
            results
        })
    }
}
