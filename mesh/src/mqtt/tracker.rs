//! Correlates publishes and subscribes with the broker's acknowledgements.
//!
//! rumqttc 0.25 has no per-request future: a request goes into its channel, the event loop
//! later reports `Outgoing::Publish(pkid)` when it sends it (pkid 0 for QoS 0) and
//! `Incoming::PubAck(pkid)` when the broker acknowledges it. Requests leave the channel in the
//! order they entered it, so the tracker keeps the waiters in that order (callers push under
//! one lock, just before sending) and moves each to a pkid-keyed map when it is sent.
//!
//! When the connection drops, rumqttc moves the unacknowledged publishes and whatever was in its
//! channel to a pending queue, which it clears when it reconnects without a session (clean
//! session). [`Tracker::lost`] takes them over: they are replayed after the next CONNACK, in
//! front of anything sent since, and their waiters are put back in the same order.

use std::collections::{HashMap, VecDeque};

use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::wire::Lost;
use crate::error::MeshError;
use crate::metrics as m;

/// A publish lost in this many reconnects in a row fails instead of being replayed again
/// (a broker that drops the connection on every attempt, e.g. a packet over its size limit).
pub(crate) const MAX_ATTEMPTS: u32 = 3;

/// Waits for one publish.
pub(crate) struct PubWaiter {
    /// `None` for direct publishes, which nobody waits for.
    pub done: Option<oneshot::Sender<Result<(), MeshError>>>,
    /// Bounds unacknowledged publishes to rumqttc's in-flight window, so replays never
    /// collide on packet ids.
    #[allow(dead_code)] // held, not read: dropping it frees the slot
    pub permit: Option<OwnedSemaphorePermit>,
    pub attempts: u32,
}

impl PubWaiter {
    fn finish(self, result: Result<(), MeshError>) {
        if result.is_err() {
            metrics::counter!(m::PUBLISH_FAILED).increment(1);
        }
        if let Some(done) = self.done {
            let _ = done.send(result);
        }
    }
}

/// Callers waiting for one SUBACK.
pub(crate) type SubWaiter = Vec<oneshot::Sender<Result<(), MeshError>>>;

/// See the module docs.
#[derive(Default)]
pub(crate) struct Tracker {
    queued_pubs: VecDeque<PubWaiter>,
    inflight_pubs: HashMap<u16, PubWaiter>,
    queued_subs: VecDeque<SubWaiter>,
    inflight_subs: HashMap<u16, SubWaiter>,
    after_resubscribe: SubWaiter,
}

impl Tracker {
    pub(crate) fn push_publish(&mut self, w: PubWaiter) {
        self.queued_pubs.push_back(w);
    }

    /// Undoes the last [`Self::push_publish`] when the request could not be sent.
    pub(crate) fn pop_publish(&mut self) -> Option<PubWaiter> {
        self.queued_pubs.pop_back()
    }

    pub(crate) fn push_subscribe(&mut self, w: SubWaiter) {
        self.queued_subs.push_back(w);
    }

    pub(crate) fn pop_subscribe(&mut self) -> Option<SubWaiter> {
        self.queued_subs.pop_back()
    }

    /// rumqttc sent a publish (`pkid` 0 for QoS 0).
    pub(crate) fn sent_publish(&mut self, pkid: u16) {
        let Some(w) = self.queued_pubs.pop_front() else {
            tracing::debug!(pkid, "outgoing publish with no waiter");
            return;
        };
        if pkid == 0 {
            w.finish(Ok(()));
        } else {
            self.inflight_pubs.insert(pkid, w);
        }
    }

    /// The broker acknowledged publish `pkid`, or refused it with MQTT 5 reason code
    /// `refused`.
    pub(crate) fn acked_publish(&mut self, pkid: u16, refused: Option<u8>) {
        if let Some(w) = self.inflight_pubs.remove(&pkid) {
            w.finish(match refused.and_then(MeshError::from_puback_code) {
                None => Ok(()),
                Some(e) => Err(e),
            });
        }
    }

    pub(crate) fn sent_subscribe(&mut self, pkid: u16) {
        if let Some(w) = self.queued_subs.pop_front() {
            self.inflight_subs.insert(pkid, w);
        }
    }

    pub(crate) fn acked_subscribe(&mut self, pkid: u16, failure: Option<String>) {
        if let Some(waiters) = self.inflight_subs.remove(&pkid) {
            for w in waiters {
                let _ = w.send(match &failure {
                    None => Ok(()),
                    Some(what) => Err(MeshError::backend(what.clone(), None)),
                });
            }
        }
    }

    /// Takes over the requests lost with the connection; returns the publishes to replay, in
    /// order. Their waiters go to the front of the queue.
    pub(crate) fn lost<R>(&mut self, lost: Vec<Lost<R>>) -> Vec<R> {
        let mut replay = Vec::new();
        let mut waiters = VecDeque::new();
        for item in lost {
            match item {
                Lost::Publish { request, pkid } => {
                    let w = if pkid == 0 {
                        self.queued_pubs.pop_front()
                    } else {
                        self.inflight_pubs.remove(&pkid)
                    };
                    let mut w = w.unwrap_or(PubWaiter {
                        done: None,
                        permit: None,
                        attempts: 0,
                    });
                    w.attempts += 1;
                    if w.attempts > MAX_ATTEMPTS {
                        tracing::error!(
                            attempts = w.attempts,
                            "publish failed: the broker dropped the connection every time it was sent (larger than its max_packet_size?)"
                        );
                        w.finish(Err(MeshError::backend(
                            format!(
                                "publishing: the broker dropped the connection in {MAX_ATTEMPTS} attempts in a row while this message was in flight; is it larger than the broker's max_packet_size?"
                            ),
                            None,
                        )));
                        continue;
                    }
                    metrics::counter!(m::REPLAYED).increment(1);
                    replay.push(request);
                    waiters.push_back(w);
                }
                Lost::Subscribe => {
                    if let Some(w) = self.queued_subs.pop_front() {
                        self.after_resubscribe.extend(w);
                    }
                }
                Lost::Other => {}
            }
        }
        for (_, w) in self.inflight_subs.drain() {
            self.after_resubscribe.extend(w);
        }
        // Anything still in flight was not handed back by rumqttc: it cannot be replayed.
        for (_, w) in self.inflight_pubs.drain() {
            w.finish(Err(MeshError::backend(
                "publishing: the connection was lost before the broker acknowledged",
                None,
            )));
        }
        waiters.extend(self.queued_pubs.drain(..));
        self.queued_pubs = waiters;
        replay
    }

    /// After a CONNACK: the waiters that the resubscription answers, queued first.
    pub(crate) fn resubscribing(&mut self) {
        let w = std::mem::take(&mut self.after_resubscribe);
        self.queued_subs.push_front(w);
    }

    /// After a CONNACK with nothing to resubscribe.
    pub(crate) fn nothing_to_resubscribe(&mut self) {
        for w in std::mem::take(&mut self.after_resubscribe) {
            let _ = w.send(Ok(()));
        }
    }

    /// Fails everything (the mesh is closed).
    pub(crate) fn close(&mut self) {
        for w in self
            .queued_pubs
            .drain(..)
            .chain(self.inflight_pubs.drain().map(|(_, w)| w))
        {
            w.finish(Err(MeshError::closed()));
        }
        let subs: Vec<_> = self
            .queued_subs
            .drain(..)
            .chain(self.inflight_subs.drain().map(|(_, w)| w))
            .flatten()
            .chain(self.after_resubscribe.drain(..))
            .collect();
        for w in subs {
            let _ = w.send(Err(MeshError::closed()));
        }
    }
}
