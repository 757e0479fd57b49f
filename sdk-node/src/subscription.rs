//! Subscriptions (`subscribe`, `subscribeState`, `requestGuildMembers`): events from the core
//! client's streams, delivered to JavaScript in batches.
//!
//! Batches travel through one channel per subscription instead of a promise per batch (a
//! napi-rs async method creates and tears down a threadsafe function for every call): the JS
//! entry registers a callback once ([`Subscription::start`]) and asks for each batch with
//! [`Subscription::request`], a synchronous call. A task on the client's runtime (the pump)
//! then waits for the first event and hands the callback that event with every event already
//! buffered, up to the requested number: a batch is as large as what is waiting, and never
//! waits to fill. At most one batch is asked for at a time, so what the subscription holds
//! beyond the core's bounded subscription buffer is one batch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ddiscord::Event;
use ddiscord::client::ClientError;
use futures::stream::BoxStream;
use futures::{FutureExt as _, StreamExt as _};
use napi::Env;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::batch::{BatchBuilder, EventBatch};
use crate::error::{ErrorKind, NodeError};

/// Default number of events per batch.
pub const DEFAULT_BATCH: u32 = 1024;
const MAX_BATCH: u32 = 65_536;

/// The core's event streams, boxed.
pub type Events = BoxStream<'static, Result<Event, ClientError>>;

/// What the callback receives for each request, as one array: a batch; or `null` and an error
/// code and message; or three `null`s once the subscription ended.
type Delivery = (Option<EventBatch>, Option<String>, Option<String>);

/// The batch callback, created unreferenced (`Weak`): it keeps the event loop alive only while
/// a batch is asked for.
type DeliveryFn = ThreadsafeFunction<Delivery, (), Delivery, napi::Status, false, true>;

/// What the JS thread and the pump share about requests.
#[derive(Default)]
struct Demand {
    /// The number of events asked for, until the pump answers.
    requested: Option<usize>,
    /// The pump is gone (the stream ended or the subscription was closed): requests are
    /// answered with the end at once.
    finished: bool,
}

struct Inner {
    pattern: String,
    closed: CancellationToken,
    runtime: tokio::runtime::Handle,
    /// The stream until [`Subscription::start`] hands it to the pump.
    stream: Mutex<Option<Events>>,
    callback: Mutex<Option<Arc<Mutex<DeliveryFn>>>>,
    demand: Mutex<Demand>,
    /// Wakes the pump when a batch is asked for.
    wake: Notify,
    /// Requests made on the JS thread whose answer the JS thread has not yet received; the
    /// callback is referenced while it is not zero.
    outstanding: Arc<AtomicUsize>,
}

/// A live subscription. The JS entry iterates it with `for await`, asking for one batch at a
/// time with [`Subscription::request`].
#[napi]
pub struct Subscription {
    inner: Arc<Inner>,
}

impl Subscription {
    /// Wraps `stream`; `closed` ends it (a child of the client's token, so `client.close()`
    /// ends it too). The pump will run on `runtime`.
    pub fn new(
        pattern: String,
        stream: Events,
        closed: CancellationToken,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pattern,
                closed,
                runtime,
                stream: Mutex::new(Some(stream)),
                callback: Mutex::new(None),
                demand: Mutex::new(Demand::default()),
                wake: Notify::new(),
                outstanding: Arc::new(AtomicUsize::new(0)),
            }),
        }
    }
}

impl Drop for Subscription {
    /// Garbage-collected without `close()`: the pump stops and the broker subscription is
    /// dropped.
    fn drop(&mut self) {
        self.inner.closed.cancel();
    }
}

/// Keeps the event loop alive (`true`) or lets it exit (`false`); napi-rs deprecates its
/// wrappers of `napi_ref/unref_threadsafe_function` in favour of cloning, which a weak
/// function cannot use to be referenced.
#[allow(deprecated)]
fn set_referenced(callback: &Mutex<DeliveryFn>, env: &Env, referenced: bool) {
    let mut f = callback.lock().unwrap_or_else(PoisonError::into_inner);
    // Fails only while the environment is being torn down, when nothing is left to keep alive.
    let _ = if referenced {
        f.refer(env)
    } else {
        f.unref(env)
    };
}

fn failure(e: impl Into<NodeError>) -> Delivery {
    let e = e.into();
    (None, Some(e.code()), Some(e.message().to_owned()))
}

const END: Delivery = (None, None, None);

impl Inner {
    fn demand(&self) -> std::sync::MutexGuard<'_, Demand> {
        self.demand.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn callback(&self) -> Option<Arc<Mutex<DeliveryFn>>> {
        self.callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until a batch is asked for; its size.
    async fn requested(&self) -> usize {
        loop {
            // Registered before the check, so a request made in between still wakes it.
            let woken = self.wake.notified();
            if let Some(max) = self.demand().requested {
                return max;
            }
            woken.await;
        }
    }

    /// Answers the pending request with `delivery` (from any thread). Called with the demand
    /// locked, so a request and the pump's end never cross.
    fn answer(&self, demand: &mut Demand, delivery: Delivery) {
        if demand.requested.take().is_none() {
            return;
        }
        let Some(callback) = self.callback() else {
            return;
        };
        let after = callback.clone();
        let outstanding = self.outstanding.clone();
        let f = callback.lock().unwrap_or_else(PoisonError::into_inner);
        // Runs on the JS thread once the callback returned: when it asked for no further
        // batch, the event loop may exit again.
        f.call_with_return_value(
            delivery,
            ThreadsafeFunctionCallMode::NonBlocking,
            move |_, env| {
                if outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
                    set_referenced(&after, &env, false);
                }
                Ok(())
            },
        );
    }

    /// The next batch of at most `max` events: waits for the first, then takes every event
    /// already buffered. `None` when the stream ended or the subscription was closed.
    async fn next_batch(
        &self,
        stream: &mut Events,
        pending: &mut Option<ClientError>,
        max: usize,
    ) -> Option<Delivery> {
        if let Some(e) = pending.take() {
            return Some(failure(e));
        }
        let first = tokio::select! {
            biased;
            () = self.closed.cancelled() => None,
            item = stream.next() => item,
        };
        let first = match first {
            None => return None,
            // Closing the client disconnects the mesh, which the stream reports as a lost
            // connection: that is the end of the subscription, not an error.
            Some(Err(_)) if self.closed.is_cancelled() => return None,
            Some(Err(e)) => return Some(failure(e)),
            Some(Ok(ev)) => ev,
        };
        let mut batch = BatchBuilder::default();
        batch.push(first.topic(), first.bytes());
        while !batch.is_full(max) {
            match stream.next().now_or_never() {
                Some(Some(Ok(ev))) => batch.push(ev.topic(), ev.bytes()),
                Some(Some(Err(e))) => {
                    if !self.closed.is_cancelled() {
                        *pending = Some(e);
                    }
                    break;
                }
                // Ended or nothing buffered: the next request finds the end.
                Some(None) | None => break,
            }
        }
        Some((Some(batch.finish()), None, None))
    }

    /// Answers requests until the stream ends or the subscription is closed.
    async fn pump(self: Arc<Self>, mut stream: Events) {
        let mut pending = None;
        loop {
            let max = tokio::select! {
                biased;
                () = self.closed.cancelled() => break,
                max = self.requested() => max,
            };
            let Some(delivery) = self.next_batch(&mut stream, &mut pending, max).await else {
                break;
            };
            let mut demand = self.demand();
            self.answer(&mut demand, delivery);
        }
        // Drops the broker subscription before the end reaches the script.
        drop(stream);
        let mut demand = self.demand();
        demand.finished = true;
        self.answer(&mut demand, END);
    }
}

#[napi]
impl Subscription {
    /// The pattern as given (Solace syntax).
    #[napi(getter)]
    pub fn pattern(&self) -> String {
        self.inner.pattern.clone()
    }

    /// Registers the function that receives each batch asked for with `request`:
    /// `callback([batch, code, message])` (one array), on the JS thread. `batch` is at least one
    /// event; or `code` and `message` say what failed (`DDISCORD_CONNECTION_LOST` when the
    /// mesh connection dropped: the client reconnects and resubscribes, ask again to continue,
    /// events published meanwhile are lost; `DDISCORD_TIMEOUT` for a member request whose next
    /// chunk did not come); all three are `null` once the subscription or its client is closed.
    ///
    /// Errors: `DDISCORD_INVALID_ARGUMENT` when called again.
    #[napi(
        ts_args_type = "callback: (delivery: [batch: EventBatch | null, code: string | null, message: string | null]) => void"
    )]
    pub fn start(&self, callback: DeliveryFn) -> napi::Result<(), String> {
        let inner = &self.inner;
        {
            let mut slot = inner
                .callback
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if slot.is_some() {
                return Err(NodeError::new(
                    ErrorKind::InvalidArgument,
                    "this subscription already delivers its batches to a callback",
                )
                .into());
            }
            *slot = Some(Arc::new(Mutex::new(callback)));
        }
        let stream = inner
            .stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match stream {
            Some(stream) => drop(inner.runtime.spawn(Arc::clone(inner).pump(stream))),
            // Closed before it started: every request is answered with the end.
            None => inner.demand().finished = true,
        }
        Ok(())
    }

    /// Asks for the next batch: the callback given to `start` receives every event already
    /// buffered, or the first to come, up to `maxEvents` (default 1024, at most 65 536) or
    /// 16 MiB of envelopes. One batch is asked for at a time: a second request before the
    /// answer changes nothing.
    ///
    /// Errors: `DDISCORD_INVALID_ARGUMENT` before `start`.
    #[napi]
    pub fn request(&self, env: Env, max_events: Option<u32>) -> napi::Result<(), String> {
        let inner = &self.inner;
        let Some(callback) = inner.callback() else {
            return Err(NodeError::new(
                ErrorKind::InvalidArgument,
                "no batch callback: call start first (the JS entry does)",
            )
            .into());
        };
        let max = max_events.unwrap_or(DEFAULT_BATCH).clamp(1, MAX_BATCH) as usize;
        let mut demand = inner.demand();
        if demand.requested.is_some() {
            return Ok(());
        }
        if inner.outstanding.fetch_add(1, Ordering::AcqRel) == 0 {
            set_referenced(&callback, &env, true);
        }
        demand.requested = Some(max);
        if demand.finished {
            inner.answer(&mut demand, END);
        } else {
            inner.wake.notify_one();
        }
        Ok(())
    }

    /// Stops the subscription: a pending request is answered with the end and the broker
    /// subscription is dropped. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.inner.closed.cancel();
        // Never started: nothing else holds the stream.
        self.inner
            .stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}
