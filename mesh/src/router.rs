//! Local fan-out: one connection's incoming messages to every matching [`Subscription`].
//!
//! The broker is asked for the nearest MQTT filter ([`TopicPattern::to_mqtt_filter`]); every
//! message is matched here again with [`TopicPattern::matches`], because MQTT has no prefix
//! wildcard and `a/#` also matches `a`. Each subscription has a bounded buffer; a subscriber
//! that falls behind loses the messages that do not fit, and every such drop is counted
//! (metric `ddiscord_mesh_slow_consumer_dropped_total`), logged and announced as
//! [`MeshEvent::SlowConsumer`] (at most once a second per subscription).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use super::metrics as m;
use super::{MeshEvent, Message};
use ddiscord_model::topic::TopicPattern;

/// How often a slow consumer is reported while it keeps dropping.
const REPORT_EVERY: Duration = Duration::from_secs(1);

struct LocalSub {
    id: u64,
    pattern: TopicPattern,
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
    last_report: Option<Instant>,
}

/// The subscriptions of one [`super::Mesh`].
pub(crate) struct Router {
    subs: Mutex<Vec<LocalSub>>,
    next_id: AtomicU64,
    capacity: usize,
    events: broadcast::Sender<MeshEvent>,
}

/// What [`Router::add`] hands to a new subscription.
pub(crate) struct Added {
    pub id: u64,
    pub rx: mpsc::Receiver<Message>,
    pub dropped: Arc<AtomicU64>,
}

impl Router {
    pub(crate) fn new(capacity: usize, events: broadcast::Sender<MeshEvent>) -> Self {
        Self {
            subs: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            capacity: capacity.max(1),
            events,
        }
    }

    fn subs(&self) -> std::sync::MutexGuard<'_, Vec<LocalSub>> {
        // A panic while holding the lock cannot leave the list half-edited (pushes and
        // removals are single calls), so a poisoned lock is still usable.
        self.subs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a subscription; messages are routed to it from now on.
    pub(crate) fn add(&self, pattern: TopicPattern) -> Added {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        self.subs().push(LocalSub {
            id,
            pattern,
            tx,
            dropped: dropped.clone(),
            last_report: None,
        });
        Added { id, rx, dropped }
    }

    /// Unregisters a subscription; returns its pattern if it was registered.
    pub(crate) fn remove(&self, id: u64) -> Option<TopicPattern> {
        let mut subs = self.subs();
        let i = subs.iter().position(|s| s.id == id)?;
        Some(subs.swap_remove(i).pattern)
    }

    /// Whether a subscription with exactly this pattern is registered.
    #[cfg_attr(not(feature = "solace"), allow(dead_code))]
    pub(crate) fn uses(&self, pattern: &TopicPattern) -> bool {
        self.subs().iter().any(|s| &s.pattern == pattern)
    }

    /// Ends every subscription's stream.
    pub(crate) fn close_all(&self) {
        self.subs().clear();
    }

    /// Delivers one message to every matching subscription; returns how many got it.
    pub(crate) fn dispatch(&self, topic: &str, payload: &Bytes) -> usize {
        let mut delivered = 0;
        let mut subs = self.subs();
        for sub in subs.iter_mut() {
            if !sub.pattern.matches(topic) {
                continue;
            }
            let msg = Message {
                topic: topic.to_owned(),
                payload: payload.clone(),
            };
            match sub.tx.try_send(msg) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let total = sub.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    metrics::counter!(m::SLOW_CONSUMER_DROPPED, "pattern" => sub.pattern.as_str().to_owned())
                        .increment(1);
                    let due = sub.last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY);
                    if due {
                        sub.last_report = Some(Instant::now());
                        tracing::warn!(
                            pattern = sub.pattern.as_str(),
                            dropped = total,
                            capacity = self.capacity,
                            "slow consumer: subscription buffer full, dropping messages for it"
                        );
                        let _ = self.events.send(MeshEvent::SlowConsumer {
                            pattern: sub.pattern.as_str().to_owned(),
                            dropped: total,
                        });
                    }
                }
                // The subscription is being dropped; its Drop removes it.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        delivered
    }
}
