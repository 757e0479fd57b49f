//! What `subscribe` and `durable` hand out: streams of messages.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use super::Message;
use super::error::MeshError;
use ddiscord_model::topic::TopicPattern;

/// A live subscription: a [`Stream`] of every message whose topic matches its pattern.
///
/// Direct (at-most-once from the subscriber's point of view): messages published while the
/// connection is down are not seen, and when the buffer
/// ([`super::MeshConfig::subscription_capacity`] messages) is full, further messages for this
/// subscription are dropped and reported as [`super::MeshEvent::SlowConsumer`]. Dropping it
/// unsubscribes (the broker subscription is removed when no other subscription uses it). The
/// stream ends when the mesh is closed.
pub struct Subscription {
    pattern: TopicPattern,
    rx: mpsc::Receiver<Message>,
    dropped: Arc<AtomicU64>,
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Subscription {
    pub(crate) fn new(
        pattern: TopicPattern,
        rx: mpsc::Receiver<Message>,
        dropped: Arc<AtomicU64>,
        release: Box<dyn FnOnce() + Send + Sync>,
    ) -> Self {
        Self {
            pattern,
            rx,
            dropped,
            release: Some(release),
        }
    }

    /// The pattern subscribed to.
    pub fn pattern(&self) -> &TopicPattern {
        &self.pattern
    }

    /// The next message; `None` once the mesh is closed.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// Messages dropped so far because this subscription's buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Messages waiting in the buffer.
    pub fn buffered(&self) -> usize {
        self.rx.len()
    }
}

impl Stream for Subscription {
    type Item = Message;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("pattern", &self.pattern.as_str())
            .field("buffered", &self.rx.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// A boxed future of an acknowledgement.
pub(crate) type AckFuture = Pin<Box<dyn Future<Output = Result<(), MeshError>> + Send>>;

/// Acknowledges one delivered message on its backend.
pub(crate) trait Acker: Send + Sync {
    fn ack(self: Box<Self>) -> AckFuture;
}

/// A message from a [`DurableSubscription`], to be acknowledged with [`Delivered::ack`] once
/// the work it asks for is done.
///
/// Not acknowledging it (dropping it, or a crash) makes the broker deliver it again when the
/// durable session reconnects, with `redelivered` set. What the subscription holds is bounded
/// by [`crate::MeshConfig::durable_capacity`]: beyond it the connection stops reading and the
/// broker keeps the messages (a broker in-flight window, Mosquitto `max_inflight_messages` or
/// the MQTT 5 receive maximum, may bound unacknowledged messages further; the shipped
/// Mosquitto configuration sets none).
pub struct Delivered {
    /// The message.
    pub message: Message,
    /// The broker marked it as a possible duplicate (MQTT DUP flag): an earlier delivery
    /// was not acknowledged.
    pub redelivered: bool,
    pub(crate) acker: Box<dyn Acker>,
}

impl Delivered {
    /// Acknowledges the message (MQTT PUBACK): the broker forgets it.
    ///
    /// If the session reconnected since the message was delivered, this does nothing: the
    /// broker has already delivered it again on the new connection, and that copy is the one
    /// to acknowledge.
    ///
    /// # Errors
    /// [`super::MeshErrorKind::Closed`] when the durable subscription's connection is gone
    /// (the message will be redelivered to the next session with this name).
    pub async fn ack(self) -> Result<(), MeshError> {
        self.acker.ack().await
    }
}

impl std::fmt::Debug for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivered")
            .field("topic", &self.message.topic)
            .field("bytes", &self.message.payload.len())
            .field("redelivered", &self.redelivered)
            .finish()
    }
}

/// A persistent, at-least-once session (see [`super::Mesh::durable`]): a [`Stream`] of
/// [`Delivered`] messages that never drops. When the consumer falls behind, the connection
/// stops reading and the broker keeps the messages.
///
/// Dropping it closes its connection abruptly (like a crash: unacknowledged messages are
/// redelivered to the next session with the same name); [`DurableSubscription::close`]
/// disconnects cleanly. Either way the broker keeps queueing messages for the session.
pub struct DurableSubscription {
    name: String,
    rx: mpsc::Receiver<Delivered>,
    closer: Option<Box<dyn FnOnce() -> AckFuture + Send + Sync>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl DurableSubscription {
    pub(crate) fn new(
        name: String,
        rx: mpsc::Receiver<Delivered>,
        closer: Box<dyn FnOnce() -> AckFuture + Send + Sync>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            name,
            rx,
            closer: Some(closer),
            task: Some(task),
        }
    }

    /// The session name (the MQTT client id).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next message; `None` once the subscription is closed.
    pub async fn recv(&mut self) -> Option<Delivered> {
        self.rx.recv().await
    }

    /// Disconnects cleanly (MQTT DISCONNECT); the broker keeps the session and queues
    /// messages for it until a session with the same name connects again.
    pub async fn close(mut self) {
        if let Some(closer) = self.closer.take() {
            let _ = closer().await;
        }
        if let Some(mut task) = self.task.take() {
            // The task ends once the DISCONNECT is sent; a dead connection cannot send it.
            if tokio::time::timeout(std::time::Duration::from_secs(3), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Stream for DurableSubscription {
    type Item = Delivered;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivered>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for DurableSubscription {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for DurableSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableSubscription")
            .field("name", &self.name)
            .field("buffered", &self.rx.len())
            .finish()
    }
}
