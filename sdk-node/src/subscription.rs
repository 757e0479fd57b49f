//! Subscriptions (`subscribe`, `subscribeState`, `requestGuildMembers`): events from the core
//! client's streams, delivered to JavaScript in batches.

use std::sync::Arc;

use ddiscord::Event;
use ddiscord::client::ClientError;
use futures::stream::BoxStream;
use futures::{FutureExt as _, StreamExt as _};
use napi_derive::napi;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::batch::{BatchBuilder, EventBatch};
use crate::error::{NodeError, Settled};

/// Default number of events per batch.
pub const DEFAULT_BATCH: u32 = 1024;
const MAX_BATCH: u32 = 65_536;

/// The core's event streams, boxed.
pub type Events = BoxStream<'static, Result<Event, ClientError>>;

struct State {
    stream: Option<Events>,
    /// An error met after events that were already batched: thrown by the next call.
    pending: Option<ClientError>,
}

struct Inner {
    pattern: String,
    state: Mutex<State>,
    closed: CancellationToken,
}

/// A live subscription. The JS entry iterates it with `for await`, calling
/// [`Subscription::next_batch`] once per batch.
#[napi]
pub struct Subscription {
    inner: Arc<Inner>,
}

impl Subscription {
    /// Wraps `stream`; `closed` ends it (a child of the client's token, so `client.close()`
    /// ends it too).
    pub fn new(pattern: String, stream: Events, closed: CancellationToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                pattern,
                state: Mutex::new(State {
                    stream: Some(stream),
                    pending: None,
                }),
                closed,
            }),
        }
    }
}

#[napi]
impl Subscription {
    /// The pattern as given (Solace syntax).
    #[napi(getter)]
    pub fn pattern(&self) -> String {
        self.inner.pattern.clone()
    }

    /// Waits for at least one event, then returns it with every event already buffered, up to
    /// `maxEvents` (default 1024, at most 65 536) or 16 MiB of envelopes. Resolves to `null`
    /// once the subscription or its client is closed.
    ///
    /// Errors: `DDISCORD_CONNECTION_LOST` when the mesh connection dropped (the client
    /// reconnects and resubscribes; call again to continue, events published meanwhile on
    /// direct subscriptions are lost), `DDISCORD_TIMEOUT` for a member request whose next chunk
    /// did not come.
    #[napi(ts_return_type = "Promise<EventBatch | null>")]
    pub async fn next_batch(&self, max_events: Option<u32>) -> Settled<Option<EventBatch>> {
        Settled(
            async {
                let inner = Arc::clone(&self.inner);
                let max = max_events.unwrap_or(DEFAULT_BATCH).clamp(1, MAX_BATCH) as usize;
                let mut guard = inner.state.lock().await;
                let state = &mut *guard;
                if let Some(e) = state.pending.take()
                    && !inner.closed.is_cancelled()
                {
                    return Err(NodeError::from(e));
                }
                let Some(stream) = state.stream.as_mut() else {
                    return Ok(None);
                };
                let first = tokio::select! {
                    biased;
                    () = inner.closed.cancelled() => None,
                    item = stream.next() => item,
                };
                let first = match first {
                    None => {
                        state.stream = None;
                        return Ok(None);
                    }
                    // Closing the client disconnects the mesh, which the stream reports as a lost
                    // connection: that is the end of the subscription, not an error.
                    Some(Err(_)) if inner.closed.is_cancelled() => {
                        state.stream = None;
                        return Ok(None);
                    }
                    Some(Err(e)) => return Err(NodeError::from(e)),
                    Some(Ok(ev)) => ev,
                };
                let mut batch = BatchBuilder::default();
                batch.push(first.topic(), first.bytes());
                while !batch.is_full(max) {
                    match stream.next().now_or_never() {
                        Some(Some(Ok(ev))) => batch.push(ev.topic(), ev.bytes()),
                        Some(Some(Err(e))) => {
                            if !inner.closed.is_cancelled() {
                                state.pending = Some(e);
                            }
                            break;
                        }
                        Some(None) => {
                            state.stream = None;
                            break;
                        }
                        None => break,
                    }
                }
                Ok(Some(batch.finish()))
            }
            .await,
        )
    }

    /// Stops the subscription: a pending `nextBatch` resolves to `null` and the broker
    /// subscription is dropped. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.inner.closed.cancel();
        if let Ok(mut state) = self.inner.state.try_lock() {
            state.stream = None;
        }
    }
}
