//! The main connection of a [`crate::Mesh`]: publishes and live subscriptions.
//!
//! One task drives rumqttc's event loop. rumqttc retries a lost connection on the next
//! `poll()` with no delay, so the task sleeps with exponential backoff after every error, logs
//! each failed attempt, and after every CONNACK subscribes again to every filter in use (the
//! session is clean) and replays the publishes the broker had not acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::{Notify, Semaphore, broadcast, oneshot};

use super::filters::cover;
use super::tracker::{PubWaiter, Tracker};
use super::wire::{FirstConnect, Wire, WireEvent, WireOptions};
use crate::backoff::Backoff;
use crate::error::{MeshError, MeshErrorKind};
use crate::metrics as m;
use crate::router::Router;
use crate::{Delivery, MeshEvent};

/// Resolves on the broker's acknowledgement of one guaranteed publish.
pub(crate) type AckRx = oneshot::Receiver<Result<(), MeshError>>;

/// State shared by the callers and the driving task.
pub(crate) struct Shared {
    tracker: Mutex<Tracker>,
    /// MQTT filter → number of local subscriptions using it.
    filters: Mutex<BTreeMap<String, usize>>,
    /// The filters subscribed at the broker: a disjoint cover of `filters`
    /// (see [`super::filters`]).
    broker: Mutex<BTreeSet<String>>,
    closed: AtomicBool,
    connected: AtomicBool,
    shutdown: Notify,
}

impl Shared {
    fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }
    fn filters(&self) -> MutexGuard<'_, BTreeMap<String, usize>> {
        self.filters.lock().unwrap_or_else(PoisonError::into_inner)
    }
    fn broker(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.broker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A main connection over MQTT version `W`.
pub(crate) struct Conn<W: Wire> {
    client: W::Client,
    shared: Arc<Shared>,
    /// One publish queuing at a time, in call order (see [`Conn::publish_queued`]).
    queue_lock: tokio::sync::Mutex<()>,
    /// Keeps the order of requests in rumqttc's channel equal to the tracker's order.
    send_lock: tokio::sync::Mutex<()>,
    /// One change of the broker's subscriptions at a time.
    subs_lock: tokio::sync::Mutex<()>,
    permits: Arc<Semaphore>,
    max_payload: usize,
}

impl<W: Wire> Conn<W> {
    /// Connects, retrying with backoff while the broker is down; returns after the first
    /// CONNACK.
    pub(crate) async fn connect(
        options: WireOptions,
        url: String,
        max_payload: usize,
        router: Arc<Router>,
        events: broadcast::Sender<MeshEvent>,
    ) -> Result<Arc<Self>, MeshError> {
        let (client, el) = W::build(&options);
        let shared = Arc::new(Shared {
            tracker: Mutex::new(Tracker::default()),
            filters: Mutex::new(BTreeMap::new()),
            broker: Mutex::new(BTreeSet::new()),
            closed: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            shutdown: Notify::new(),
        });
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(drive::<W>(
            el,
            shared.clone(),
            router,
            events,
            url.clone(),
            ready_tx,
        ));
        match ready_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(MeshError::new(MeshErrorKind::Connect { url })),
        }
        Ok(Arc::new(Self {
            client,
            shared,
            queue_lock: tokio::sync::Mutex::new(()),
            send_lock: tokio::sync::Mutex::new(()),
            subs_lock: tokio::sync::Mutex::new(()),
            permits: Arc::new(Semaphore::new(usize::from(options.inflight))),
            max_payload,
        }))
    }

    /// Queues a publish on the connection and returns once it is in rumqttc's request channel,
    /// behind every publish queued before it (callers are served in call order: one queuing at
    /// a time, waiting for an in-flight slot while holding the queue). The receiver resolves on
    /// the broker's PUBACK (`None` for direct publishes, which nobody waits for).
    pub(crate) async fn publish_queued(
        &self,
        topic: &str,
        payload: Bytes,
        delivery: Delivery,
    ) -> Result<Option<AckRx>, MeshError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(MeshError::closed());
        }
        if payload.len() > self.max_payload {
            return Err(MeshError::new(MeshErrorKind::PayloadTooLarge {
                bytes: payload.len(),
                max: self.max_payload,
            }));
        }
        // The queue lock is fair (FIFO), so whoever asked first gets the next in-flight slot
        // and the next place in the channel: publishes reach the broker in call order even
        // when the window is full.
        let _queue = self.queue_lock.lock().await;
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| MeshError::closed())?;
        let guaranteed = matches!(delivery, Delivery::Guaranteed);
        let (done, rx) = if guaranteed {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        {
            let _order = self.send_lock.lock().await;
            self.shared.tracker().push_publish(PubWaiter {
                done,
                permit: Some(permit),
                attempts: 0,
            });
            if let Err(e) = W::publish(&self.client, topic.to_owned(), payload, guaranteed).await {
                self.shared.tracker().pop_publish();
                return Err(MeshError::with_source(MeshErrorKind::Closed, e));
            }
        }
        metrics::counter!(m::PUBLISHED, "delivery" => if guaranteed { "guaranteed" } else { "direct" })
            .increment(1);
        Ok(rx)
    }

    /// Adds one use of `filter`; when needed, changes the broker's subscriptions and waits
    /// for the SUBACK.
    pub(crate) async fn add_filter(&self, filter: &str) -> Result<(), MeshError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(MeshError::closed());
        }
        *self.shared.filters().entry(filter.to_owned()).or_insert(0) += 1;
        let result = self.reconcile().await;
        if result.is_err() {
            self.release_count(filter);
        }
        result
    }

    /// Decrements the use count; true when the filter is no longer used.
    fn release_count(&self, filter: &str) -> bool {
        let mut filters = self.shared.filters();
        match filters.get_mut(filter) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                filters.remove(filter);
                true
            }
            None => false,
        }
    }

    /// Removes one use of `filter`; narrows the broker's subscriptions when it was the last.
    pub(crate) fn release_filter(self: &Arc<Self>, filter: String) {
        if !self.release_count(&filter) || self.shared.closed.load(Ordering::Acquire) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        rt.spawn(async move {
            if let Err(e) = this.reconcile().await {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "could not narrow the broker subscriptions"
                );
            }
        });
    }

    /// Brings the broker's subscriptions to the disjoint cover of the local filters:
    /// subscribes the new ones first (waiting for the SUBACK), then unsubscribes the old.
    async fn reconcile(&self) -> Result<(), MeshError> {
        let _one = self.subs_lock.lock().await;
        let desired: BTreeSet<String> = {
            let filters = self.shared.filters();
            cover(filters.keys().map(String::as_str))
                .into_iter()
                .collect()
        };
        let current = self.shared.broker().clone();
        let to_sub: Vec<String> = desired.difference(&current).cloned().collect();
        let to_unsub: Vec<String> = current.difference(&desired).cloned().collect();
        if !to_sub.is_empty() {
            // Recorded first, so that a reconnect meanwhile subscribes them too.
            self.shared.broker().extend(to_sub.iter().cloned());
            let undo = |shared: &Shared| {
                let mut broker = shared.broker();
                for f in &to_sub {
                    broker.remove(f);
                }
            };
            let (tx, rx) = oneshot::channel();
            {
                let _order = self.send_lock.lock().await;
                self.shared.tracker().push_subscribe(vec![tx]);
                if let Err(e) = W::subscribe(&self.client, to_sub.clone()).await {
                    self.shared.tracker().pop_subscribe();
                    undo(&self.shared);
                    return Err(MeshError::with_source(MeshErrorKind::Closed, e));
                }
            }
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    undo(&self.shared);
                    return Err(e);
                }
                Err(_) => return Err(MeshError::closed()),
            }
        }
        for f in to_unsub {
            self.shared.broker().remove(&f);
            let _order = self.send_lock.lock().await;
            if let Err(e) = W::unsubscribe(&self.client, f).await {
                return Err(MeshError::with_source(MeshErrorKind::Closed, e));
            }
        }
        Ok(())
    }

    /// Whether the connection is up (a CONNACK was received and no error since).
    pub(crate) fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    pub(crate) async fn close(&self) {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            W::disconnect(&self.client),
        )
        .await;
        self.permits.close();
        self.shared.shutdown.notify_one();
    }
}

async fn drive<W: Wire>(
    mut el: W::EventLoop,
    shared: Arc<Shared>,
    router: Arc<Router>,
    events: broadcast::Sender<MeshEvent>,
    url: String,
    ready: oneshot::Sender<Result<(), MeshError>>,
) {
    let mut ready = Some(ready);
    let mut first = FirstConnect::default();
    let mut backoff = Backoff::new();
    let mut replay: Vec<W::Request> = Vec::new();
    loop {
        let polled = tokio::select! {
            polled = W::poll(&mut el) => polled,
            () = shared.shutdown.notified() => break,
        };
        match polled {
            Ok(WireEvent::ConnAck { .. }) => {
                backoff.reset();
                shared.connected.store(true, Ordering::Release);
                tracing::info!(url = %url, "mesh connected");
                let filters: Vec<String> = shared.broker().iter().cloned().collect();
                {
                    let mut tracker = shared.tracker();
                    if filters.is_empty() {
                        tracker.nothing_to_resubscribe();
                    } else {
                        tracker.resubscribing();
                        W::push_pending(&mut el, W::subscribe_request(&filters));
                    }
                }
                if !replay.is_empty() {
                    tracing::info!(
                        count = replay.len(),
                        "replaying publishes the broker had not acknowledged"
                    );
                }
                for r in replay.drain(..) {
                    W::push_pending(&mut el, r);
                }
                let _ = events.send(MeshEvent::Connected);
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
            }
            Ok(ev) => handle::<W>(ev, &shared, &router),
            Err(mut e) => {
                if e.requests_done || shared.closed.load(Ordering::Acquire) {
                    break;
                }
                if ready.is_some()
                    && let Some(fatal) = first.fatal(&mut e, &url)
                {
                    tracing::error!(error = %fatal, "cannot connect to the mesh");
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(fatal));
                    }
                    break;
                }
                if e.refused {
                    // After a first CONNACK: credentials rotated at the broker, say. Keep
                    // retrying with backoff, so the process resumes once they match again.
                    tracing::error!(url = %url, error = %e.source, "the broker refused the connection");
                }
                let (leftover, lost) = W::take_lost(&mut el);
                for ev in leftover {
                    handle::<W>(ev, &shared, &router);
                }
                replay.extend(shared.tracker().lost(lost));
                let delay = backoff.next_delay();
                if shared.connected.swap(false, Ordering::AcqRel) {
                    metrics::counter!(m::RECONNECTS, "connection" => "main").increment(1);
                    tracing::warn!(url = %url, error = %e.source, retry_in_ms = delay.as_millis() as u64, "mesh connection lost; reconnecting");
                    let _ = events.send(MeshEvent::Disconnected {
                        reason: e.source.to_string(),
                    });
                } else {
                    metrics::counter!(m::CONNECT_FAILURES, "connection" => "main").increment(1);
                    tracing::warn!(url = %url, error = %e.source, retry_in_ms = delay.as_millis() as u64, "mesh broker unreachable; retrying");
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shared.shutdown.notified() => break,
                }
            }
        }
    }
    shared.closed.store(true, Ordering::Release);
    if shared.connected.swap(false, Ordering::AcqRel) {
        let _ = events.send(MeshEvent::Disconnected {
            reason: "closed".to_owned(),
        });
    }
    shared.tracker().close();
    router.close_all();
    tracing::debug!(url = %url, "mesh connection task ended");
}

fn handle<W: Wire>(ev: WireEvent<W::Incoming>, shared: &Shared, router: &Router) {
    match ev {
        WireEvent::Publish { topic, payload, .. } => match std::str::from_utf8(&topic) {
            Ok(topic) => {
                metrics::counter!(m::RECEIVED, "kind" => "subscription").increment(1);
                router.dispatch(topic, &payload);
            }
            Err(_) => {
                metrics::counter!(m::SKIPPED, "reason" => "topic_not_utf8").increment(1);
                tracing::warn!("skipping a message whose topic is not UTF-8");
            }
        },
        WireEvent::OutgoingPublish(pkid) => shared.tracker().sent_publish(pkid),
        WireEvent::PubAck { pkid, refused } => {
            if let Some(code) = refused {
                tracing::warn!(
                    pkid,
                    code,
                    "the broker refused a publish (MQTT 5 PUBACK reason code)"
                );
            }
            shared.tracker().acked_publish(pkid, refused);
        }
        WireEvent::OutgoingSubscribe(pkid) => shared.tracker().sent_subscribe(pkid),
        WireEvent::SubAck { pkid, failure } => {
            if let Some(f) = &failure {
                tracing::warn!(pkid, failure = %f, "the broker refused a subscription");
            }
            shared.tracker().acked_subscribe(pkid, failure);
        }
        WireEvent::ConnAck { .. } | WireEvent::OutgoingDisconnect | WireEvent::Other => {}
    }
}
