//! Durable subscriptions: one persistent MQTT session per name, QoS 1, manual acks.
//!
//! The connection uses the durable name as client id with `clean_session = false` (MQTT 5:
//! clean start false and a session expiry of 7 days), so the broker keeps the subscription and
//! queues QoS 1 messages while it is offline, and delivers again (DUP set) whatever was not
//! acknowledged when it reconnects. Acknowledgements are sent only from [`Delivered::ack`].
//! MQTT 3.1.1 §3.1.2.4, MQTT 5 §3.1.2.4 and §4.4 (message delivery retry).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};

use super::wire::{FirstConnect, Wire, WireEvent, WireOptions};
use crate::backoff::Backoff;
use crate::error::{MeshError, MeshErrorKind};
use crate::metrics as m;
use crate::subscription::{AckFuture, Acker, Delivered, DurableSubscription};
use crate::{MeshEvent, Message};
use ddiscord_model::topic::TopicPattern;

/// A connection that lasted this long resets the reconnect backoff.
const STABLE: Duration = Duration::from_secs(10);

/// How long a clean close waits for the broker to close the connection.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

struct WireAck<W: Wire> {
    client: W::Client,
    incoming: W::Incoming,
    generation: u64,
    current: Arc<AtomicU64>,
    overflow: Arc<Overflow<W::Incoming>>,
}

/// Acknowledgements that found rumqttc's request channel full, for the session task to send.
///
/// An ack never waits on the request channel: the session task that drains it may itself be
/// waiting for the consumer to take a message, and a consumer waiting to ack would never take
/// it (a deadlock under load). Bounded by the messages delivered and not yet acknowledged.
struct Overflow<I> {
    /// `(generation, message)`; `None` once the session task has ended.
    queue: Mutex<Option<Vec<(u64, I)>>>,
}

impl<I> Overflow<I> {
    fn new() -> Self {
        Self {
            queue: Mutex::new(Some(Vec::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<(u64, I)>>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes what is queued for `generation`; older connections' acks are dropped (the broker
    /// delivers those messages again, and that copy is acknowledged).
    fn take(&self, generation: u64) -> Vec<I> {
        let mut queue = self.lock();
        queue
            .as_mut()
            .map(|q| {
                q.drain(..)
                    .filter(|(g, _)| *g == generation)
                    .map(|(_, i)| i)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn close(&self) {
        *self.lock() = None;
    }
}

/// Closes the overflow when the session task ends.
struct OverflowClose<I>(Arc<Overflow<I>>);

impl<I> Drop for OverflowClose<I> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl<W: Wire> Acker for WireAck<W> {
    fn ack(self: Box<Self>) -> AckFuture {
        Box::pin(async move {
            if self.current.load(Ordering::Acquire) != self.generation {
                // Delivered on an earlier connection: the broker has sent it again.
                return Ok(());
            }
            // A full channel means the session task has requests to send, and it takes the
            // overflow after each one; at worst the ack waits for the next event.
            if W::try_ack(&self.client, &self.incoming) {
                return Ok(());
            }
            match self.overflow.lock().as_mut() {
                Some(queue) => {
                    queue.push((self.generation, self.incoming));
                    Ok(())
                }
                None => Err(MeshError::new(MeshErrorKind::Closed)),
            }
        })
    }
}

pub(crate) async fn open<W: Wire>(
    options: WireOptions,
    url: String,
    name: String,
    patterns: Vec<TopicPattern>,
    capacity: usize,
    events: broadcast::Sender<MeshEvent>,
) -> Result<DurableSubscription, MeshError> {
    let (client, el) = W::build(&options);
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let (ready_tx, ready_rx) = oneshot::channel();
    // Disjoint, so that no message arrives twice through overlapping filters.
    let raw: Vec<String> = patterns.iter().map(TopicPattern::to_mqtt_filter).collect();
    let filters = super::filters::cover(raw.iter().map(String::as_str));
    let task = tokio::spawn(drive::<W>(
        el,
        client.clone(),
        url.clone(),
        name.clone(),
        patterns,
        filters,
        tx,
        events,
        ready_tx,
    ));
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(MeshError::new(MeshErrorKind::Connect { url })),
    }
    let closer_client = client;
    let closer: Box<dyn FnOnce() -> AckFuture + Send + Sync> = Box::new(move || {
        Box::pin(async move {
            W::disconnect(&closer_client)
                .await
                .map_err(|e| MeshError::with_source(MeshErrorKind::Closed, e))
        })
    });
    Ok(DurableSubscription::new(name, rx, closer, task))
}

#[allow(clippy::too_many_arguments)]
async fn drive<W: Wire>(
    mut el: W::EventLoop,
    client: W::Client,
    url: String,
    name: String,
    patterns: Vec<TopicPattern>,
    filters: Vec<String>,
    tx: mpsc::Sender<Delivered>,
    events: broadcast::Sender<MeshEvent>,
    ready: oneshot::Sender<Result<(), MeshError>>,
) {
    let mut ready = Some(ready);
    let mut first = FirstConnect::default();
    let mut backoff = Backoff::new();
    let generation = Arc::new(AtomicU64::new(0));
    let overflow = Arc::new(Overflow::new());
    // Also when the task is aborted (the subscription dropped): later acks then fail.
    let _closed_on_exit = OverflowClose(overflow.clone());
    let mut connected = false;
    let mut connected_at: Option<Instant> = None;
    loop {
        for incoming in overflow.take(generation.load(Ordering::Acquire)) {
            W::push_pending(&mut el, W::ack_request(&incoming));
        }
        match W::poll(&mut el).await {
            Ok(WireEvent::ConnAck { session_present }) => {
                connected = true;
                connected_at = Some(Instant::now());
                generation.fetch_add(1, Ordering::AcqRel);
                tracing::info!(url = %url, durable = %name, session_present, "durable session connected");
                // A fresh session (first start, or expired) has no subscriptions yet; a kept
                // one still has them, but patterns may have changed since, so subscribe on the
                // first connection of this process too.
                if !session_present || ready.is_some() {
                    W::push_pending(&mut el, W::subscribe_request(&filters));
                }
                // A kept session is already subscribed: usable now (the SUBACK of the
                // refresh above may come after the queued messages, or, on rumqttd, not at
                // all).
                if session_present && let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
                let _ = events.send(MeshEvent::Connected);
            }
            Ok(WireEvent::SubAck { failure, .. }) => {
                if let Some(ready) = ready.take() {
                    let result = match failure {
                        None => Ok(()),
                        Some(what) => Err(MeshError::backend(what, None)),
                    };
                    let failed = result.is_err();
                    let _ = ready.send(result);
                    if failed {
                        return;
                    }
                } else if let Some(f) = failure {
                    tracing::error!(durable = %name, failure = %f, "the broker refused the durable subscription after a reconnect");
                }
            }
            Ok(WireEvent::Publish {
                topic,
                payload,
                dup,
                raw,
            }) => {
                let topic = match String::from_utf8(topic.to_vec()) {
                    Ok(t) if patterns.iter().any(|p| p.matches(&t)) => t,
                    other => {
                        // Outside the patterns (the MQTT filter is wider) or not UTF-8: ack
                        // it so it does not block the in-flight window, and count it.
                        let reason = if other.is_ok() {
                            "outside_pattern"
                        } else {
                            "topic_not_utf8"
                        };
                        metrics::counter!(m::SKIPPED, "reason" => reason).increment(1);
                        W::push_pending(&mut el, W::ack_request(&raw));
                        continue;
                    }
                };
                metrics::counter!(m::RECEIVED, "kind" => "durable").increment(1);
                let delivered = Delivered {
                    message: Message { topic, payload },
                    redelivered: dup,
                    acker: Box::new(WireAck::<W> {
                        client: client.clone(),
                        incoming: raw,
                        generation: generation.load(Ordering::Acquire),
                        current: generation.clone(),
                        overflow: overflow.clone(),
                    }),
                };
                // Never drop: wait for room. The broker keeps what we do not read.
                if tx.send(delivered).await.is_err() {
                    break;
                }
            }
            Ok(WireEvent::OutgoingDisconnect) => {
                // Wait (bounded) for the broker to close the connection: then it has read
                // everything sent before, acks included. A session with the same name
                // connecting earlier would take over and the broker could discard them.
                let _ = tokio::time::timeout(CLOSE_WAIT, async {
                    while W::poll(&mut el).await.is_ok() {}
                })
                .await;
                break;
            }
            Ok(_) => {}
            Err(mut e) => {
                if e.requests_done {
                    break;
                }
                if ready.is_some()
                    && let Some(fatal) = first.fatal(&mut e, &url)
                {
                    tracing::error!(durable = %name, error = %fatal, "cannot open the durable session");
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(fatal));
                    }
                    break;
                }
                if e.taken_over {
                    // Another consumer opened this session (e.g. it took the partition over):
                    // reconnecting would take it back and the two would alternate. End here.
                    tracing::warn!(url = %url, durable = %name, "durable session taken over by another consumer with the same name; ending this subscription");
                    let _ = events.send(MeshEvent::Disconnected {
                        reason: format!("durable session {name} taken over"),
                    });
                    break;
                }
                // Acks and pending requests of the lost connection are void: the broker
                // redelivers what was not acknowledged.
                let _ = W::take_lost(&mut el);
                // The backoff restarts only after a connection that lasted: a broker that
                // closes the session right after each connect (another consumer with this
                // name taking it over, on brokers that do not say so) is retried ever slower.
                match connected_at.take() {
                    Some(t) if t.elapsed() >= STABLE => backoff.reset(),
                    Some(_) => {
                        tracing::warn!(url = %url, durable = %name, "durable session closed soon after connecting; is another consumer using the same name?")
                    }
                    None => {}
                }
                let delay = backoff.next_delay();
                if std::mem::take(&mut connected) {
                    metrics::counter!(m::RECONNECTS, "connection" => "durable").increment(1);
                    tracing::warn!(url = %url, durable = %name, error = %e.source, retry_in_ms = delay.as_millis() as u64, "durable session lost; reconnecting");
                    let _ = events.send(MeshEvent::Disconnected {
                        reason: e.source.to_string(),
                    });
                } else {
                    metrics::counter!(m::CONNECT_FAILURES, "connection" => "durable").increment(1);
                    tracing::warn!(url = %url, durable = %name, error = %e.source, retry_in_ms = delay.as_millis() as u64, "mesh broker unreachable; retrying");
                }
                if tx.is_closed() {
                    break;
                }
                tokio::time::sleep(delay).await;
            }
        }
    }
    tracing::debug!(durable = %name, "durable session task ended");
}
