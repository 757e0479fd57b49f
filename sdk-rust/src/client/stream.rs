//! [`Subscription`]: a mesh subscription turned into typed [`Event`]s (the client-level
//! subscription; [`crate::mesh::Subscription`] is the raw one it reads).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{FutureExt as _, Stream, StreamExt as _};
use tokio_stream::wrappers::BroadcastStream;

use super::error::{ClientError, ClientErrorKind};
use super::event::Event;
use crate::mesh::{MeshEvent, Subscription as MeshSubscription};
use crate::topic::Topics;

/// The events matching one subscription, in the order the mesh delivered them.
///
/// Items are `Err` only for [`ClientErrorKind::ConnectionLost`] (the mesh reconnects and
/// resubscribes in the background; the stream stays usable, but events published while the
/// connection was down are lost for direct subscriptions). A message that is not an envelope on
/// a dispatch topic is skipped, counted in `ddiscord_client_malformed_total` and logged. The
/// stream ends when the client is closed.
pub struct Subscription {
    topics: Topics,
    pattern: String,
    inner: MeshSubscription,
    mesh_events: BroadcastStream<MeshEvent>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("pattern", &self.pattern)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(
        topics: Topics,
        pattern: String,
        inner: MeshSubscription,
        mesh_events: tokio::sync::broadcast::Receiver<MeshEvent>,
    ) -> Self {
        Self {
            topics,
            pattern,
            inner,
            mesh_events: BroadcastStream::new(mesh_events),
        }
    }

    /// The pattern this stream was subscribed with.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Waits for the next item, then takes every item already buffered, up to `max` in total:
    /// one wake-up per batch instead of one per event (what the Python and Node bindings use
    /// to cross the language boundary once per batch). An empty vector means the stream ended.
    pub async fn next_batch(&mut self, max: usize) -> Vec<Result<Event, ClientError>> {
        let mut batch = Vec::new();
        let Some(first) = self.next().await else {
            return batch;
        };
        batch.push(first);
        while batch.len() < max.max(1) {
            match self.next().now_or_never() {
                Some(Some(item)) => batch.push(item),
                _ => break,
            }
        }
        batch
    }
}

impl Stream for Subscription {
    type Item = Result<Event, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        while let Poll::Ready(Some(ev)) = this.mesh_events.poll_next_unpin(cx) {
            if let Ok(MeshEvent::Disconnected { reason }) = ev {
                return Poll::Ready(Some(Err(ClientError::new(
                    ClientErrorKind::ConnectionLost { reason },
                ))));
            }
        }
        loop {
            let Some(msg) = std::task::ready!(this.inner.poll_next_unpin(cx)) else {
                return Poll::Ready(None);
            };
            match Event::from_message(&this.topics, msg.topic, msg.payload) {
                Ok(event) => {
                    metrics::counter!("ddiscord_client_events_received_total").increment(1);
                    return Poll::Ready(Some(Ok(event)));
                }
                Err(e) => {
                    metrics::counter!("ddiscord_client_malformed_total").increment(1);
                    tracing::warn!(pattern = %this.pattern, error = &e as &dyn std::error::Error, "skipping a message that is not a DDiscord event");
                }
            }
        }
    }
}
