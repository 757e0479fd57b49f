//! `client.subscribe(pattern)`: every matching event, delivered to JavaScript in batches.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{FutureExt as _, StreamExt as _};
use napi_derive::napi;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::batch::{BatchBuilder, EventBatch};

/// Default and maximum number of events per batch.
pub const DEFAULT_BATCH: u32 = 1024;
const MAX_BATCH: u32 = 65_536;

/// One event as the mesh delivered it.
pub struct Incoming {
    /// Its topic.
    pub topic: String,
    /// The envelope.
    pub payload: Bytes,
}

struct Inner {
    pattern: String,
    stream: Mutex<Option<BoxStream<'static, Incoming>>>,
    closed: CancellationToken,
}

/// A live subscription. Iterate it from JavaScript with `for await`; the JS entry calls
/// [`Subscription::next_batch`] under the hood.
#[napi]
pub struct Subscription {
    inner: Arc<Inner>,
}

impl Subscription {
    /// Wraps a stream of events matching `pattern`; `closed` ends it (also cancelled by the
    /// client's `close()`).
    pub fn new(
        pattern: String,
        stream: BoxStream<'static, Incoming>,
        closed: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pattern,
                stream: Mutex::new(Some(stream)),
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
    /// `maxEvents` (default 1024, at most 65 536). Resolves to `null` once the subscription or
    /// its client is closed.
    #[napi]
    pub async fn next_batch(&self, max_events: Option<u32>) -> napi::Result<Option<EventBatch>> {
        let inner = Arc::clone(&self.inner);
        let max = max_events.unwrap_or(DEFAULT_BATCH).clamp(1, MAX_BATCH) as usize;
        let mut guard = inner.stream.lock().await;
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        let first = tokio::select! {
            () = inner.closed.cancelled() => None,
            item = stream.next() => item,
        };
        let Some(first) = first else {
            *guard = None;
            return Ok(None);
        };
        let mut batch = BatchBuilder::default();
        batch.push(first.topic, &first.payload);
        while !batch.is_full(max) {
            match stream.next().now_or_never() {
                Some(Some(ev)) => batch.push(ev.topic, &ev.payload),
                Some(None) => {
                    *guard = None;
                    break;
                }
                None => break,
            }
        }
        Ok(Some(batch.finish()))
    }

    /// Stops the subscription: a pending `nextBatch` resolves to `null` and the broker
    /// subscription is dropped. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.inner.closed.cancel();
    }
}
