//! Solace PubSub+ native (SMF) backend through solace-rs 0.8 (cargo feature `solace`).
//!
//! **Untested here.** solace-rs links Solace's C library (solclient), which its build script
//! downloads and this environment cannot; the code is only type-checked with
//! `DOCS_RS=1 cargo check -p ddiscord-mesh --features solace`. The MQTT backend is the tested path
//! (Solace brokers also serve MQTT, and map MQTT topics to SMF topics, so SMF subscribers see
//! the same messages).
//!
//! What it does:
//! - Direct publish ([`Delivery::Direct`] → `DeliveryMode::Direct`) and guaranteed publish
//!   ([`Delivery::Guaranteed`] → `DeliveryMode::Persistent`). solace-rs 0.8 reports a
//!   broker acknowledgement as a session event without the message's correlation tag; Solace
//!   acknowledges guaranteed messages of one session in the order they were sent, so waiters
//!   are resolved in that order (`Acknowledgement` → ok, `RejectedMsgError` → error).
//! - Subscriptions in Solace syntax, which is the mesh's syntax: the pattern is subscribed
//!   as is (exact, no wider filter), and still matched locally.
//! - Reconnects and re-applies subscriptions through the C library (`reconnect_retries -1`,
//!   `reapply_subscriptions`), reported as [`MeshEvent`]s.
//!
//! What it does not: durable subscriptions (solace-rs 0.8 has no flow/queue-binding API).
//! [`super::Mesh::durable`] returns [`MeshErrorKind::Unsupported`]; connect durable consumers
//! through Solace's MQTT service (`mqtt://`) instead, where persistent sessions are Solace
//! queues.
//!
//! Settings beyond the URL come from the environment (secrets are never logged):
//! `DDISCORD_SOLACE_VPN` (default `default`), `DDISCORD_SOLACE_USERNAME` (default `default`),
//! `DDISCORD_SOLACE_PASSWORD` (default empty).
//!
//! Reference: <https://docs.solace.com/API/API-Developer-Guide/Message-Delivery-Modes.htm>,
//! <https://docs.solace.com/API/API-Developer-Guide/Acknowledging-Published-.htm>.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use solace_rs::message::{
    DeliveryMode, DestinationType, InboundMessage, Message as _, MessageDestination,
    OutboundMessageBuilder,
};
use solace_rs::session::SessionEvent;
use solace_rs::{Context, Session, SolaceLogLevel};
use tokio::sync::{broadcast, oneshot};

use super::error::{MeshError, MeshErrorKind};
use super::metrics as m;
use super::router::Router;
use super::subscription::DurableSubscription;
use super::{Delivery, MeshEvent};
use ddiscord_model::topic::TopicPattern;

type OnMessage = Box<dyn FnMut(InboundMessage) + Send>;
type OnEvent = Box<dyn FnMut(SessionEvent) + Send>;
type SolSession = Session<'static, OnMessage, OnEvent>;
type Waiters = Arc<Mutex<VecDeque<oneshot::Sender<Result<(), MeshError>>>>>;

/// A connected SMF session.
pub(crate) struct SolaceBackend {
    session: Arc<Mutex<Option<SolSession>>>,
    connected: Arc<AtomicBool>,
    waiters: Waiters,
    max_payload: usize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

impl SolaceBackend {
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        client_id: String,
        max_payload: usize,
        router: Arc<Router>,
        events: broadcast::Sender<MeshEvent>,
    ) -> Result<Self, MeshError> {
        let url = format!("tcp://{host}:{port}");
        let waiters: Waiters = Arc::new(Mutex::new(VecDeque::new()));
        let on_message: OnMessage = Box::new(move |msg: InboundMessage| {
            let topic = match msg.get_destination() {
                Ok(Some(d)) => d.dest.to_string_lossy().into_owned(),
                _ => {
                    metrics::counter!(m::SKIPPED, "reason" => "no_destination").increment(1);
                    return;
                }
            };
            let payload = match msg.get_payload() {
                Ok(Some(p)) => Bytes::copy_from_slice(p),
                _ => Bytes::new(),
            };
            metrics::counter!(m::RECEIVED, "kind" => "subscription").increment(1);
            router.dispatch(&topic, &payload);
        });
        let ev_waiters = waiters.clone();
        let connected = Arc::new(AtomicBool::new(false));
        let ev_connected = connected.clone();
        let ev_url = url.clone();
        let on_event: OnEvent = Box::new(move |ev: SessionEvent| match ev {
            SessionEvent::UpNotice | SessionEvent::ReconnectedNotice => {
                ev_connected.store(true, Ordering::Release);
                tracing::info!(url = %ev_url, "mesh connected (Solace)");
                let _ = events.send(MeshEvent::Connected);
            }
            SessionEvent::DownError
            | SessionEvent::ConnectFailedError
            | SessionEvent::ReconnectingNotice => {
                ev_connected.store(false, Ordering::Release);
                metrics::counter!(m::RECONNECTS, "connection" => "main").increment(1);
                tracing::warn!(url = %ev_url, event = %ev, "Solace session down; the API reconnects");
                let _ = events.send(MeshEvent::Disconnected {
                    reason: ev.to_string(),
                });
            }
            SessionEvent::Acknowledgement => {
                if let Some(w) = lock(&ev_waiters).pop_front() {
                    let _ = w.send(Ok(()));
                }
            }
            SessionEvent::RejectedMsgError => {
                metrics::counter!(m::PUBLISH_FAILED).increment(1);
                tracing::warn!(url = %ev_url, "the Solace broker rejected a guaranteed message");
                if let Some(w) = lock(&ev_waiters).pop_front() {
                    let _ = w.send(Err(MeshError::backend(
                        "publishing: the Solace broker rejected the guaranteed message",
                        None,
                    )));
                }
            }
            other => tracing::debug!(event = %other, "Solace session event"),
        });
        let vpn = env_or("DDISCORD_SOLACE_VPN", "default");
        let username = env_or("DDISCORD_SOLACE_USERNAME", "default");
        let password = env_or("DDISCORD_SOLACE_PASSWORD", "");
        let build_url = url.clone();
        let session = tokio::task::spawn_blocking(move || {
            let context = Context::new(SolaceLogLevel::Warning).map_err(|e| {
                MeshError::with_source(
                    MeshErrorKind::Connect {
                        url: build_url.clone(),
                    },
                    e,
                )
            })?;
            context
                .session_builder()
                .host_name(build_url.clone())
                .vpn_name(vpn)
                .username(username)
                .password(password)
                .client_name(client_id)
                .on_message(on_message)
                .on_event(on_event)
                // -1: retry forever, the C library waits between attempts.
                .connect_retries(-1)
                .reconnect_retries(-1)
                .reconnect_retry_wait_ms(3000)
                .reapply_subscriptions(true)
                .tcp_nodelay(true)
                .build()
                .map_err(|e| MeshError::with_source(MeshErrorKind::Connect { url: build_url }, e))
        })
        .await
        .map_err(|e| MeshError::with_source(MeshErrorKind::Connect { url: url.clone() }, e))??;
        Ok(Self {
            session: Arc::new(Mutex::new(Some(session))),
            connected,
            waiters,
            max_payload,
        })
    }

    /// Hands the message to the C library (in call order when awaited one after the other);
    /// the receiver resolves on the broker's acknowledgement of a guaranteed message.
    pub(crate) async fn publish_queued(
        &self,
        topic: &str,
        payload: Bytes,
        delivery: Delivery,
    ) -> Result<Option<oneshot::Receiver<Result<(), MeshError>>>, MeshError> {
        if payload.len() > self.max_payload {
            return Err(MeshError::new(MeshErrorKind::PayloadTooLarge {
                bytes: payload.len(),
                max: self.max_payload,
            }));
        }
        let guaranteed = matches!(delivery, Delivery::Guaranteed);
        let dest = MessageDestination::new(DestinationType::Topic, topic)
            .map_err(|e| MeshError::backend("building a Solace destination", Some(Box::new(e))))?;
        let msg = OutboundMessageBuilder::new()
            .delivery_mode(if guaranteed {
                DeliveryMode::Persistent
            } else {
                DeliveryMode::Direct
            })
            .destination(dest)
            .payload(payload.to_vec())
            .build()
            .map_err(|e| MeshError::backend("building a Solace message", Some(Box::new(e))))?;
        let session = self.session.clone();
        let waiters = self.waiters.clone();
        let rx = tokio::task::spawn_blocking(move || {
            let guard = lock(&session);
            let Some(s) = guard.as_ref() else {
                return Err(MeshError::closed());
            };
            // Queue the waiter before sending so the acknowledgement finds it.
            let rx = if guaranteed {
                let (tx, rx) = oneshot::channel();
                lock(&waiters).push_back(tx);
                Some(rx)
            } else {
                None
            };
            if let Err(e) = s.publish(msg) {
                if guaranteed {
                    lock(&waiters).pop_back();
                }
                return Err(MeshError::backend(
                    "publishing to Solace",
                    Some(Box::new(e)),
                ));
            }
            Ok(rx)
        })
        .await
        .map_err(|e| MeshError::backend("publishing to Solace", Some(Box::new(e))))??;
        metrics::counter!(m::PUBLISHED, "delivery" => if guaranteed { "guaranteed" } else { "direct" })
            .increment(1);
        Ok(rx)
    }

    pub(crate) async fn add_subscription(&self, pattern: &TopicPattern) -> Result<(), MeshError> {
        let session = self.session.clone();
        let topic = pattern.as_str().to_owned();
        tokio::task::spawn_blocking(move || {
            let guard = lock(&session);
            let Some(s) = guard.as_ref() else {
                return Err(MeshError::closed());
            };
            s.subscribe(topic)
                .map_err(|e| MeshError::backend("subscribing on Solace", Some(Box::new(e))))
        })
        .await
        .map_err(|e| MeshError::backend("subscribing on Solace", Some(Box::new(e))))?
    }

    /// Unsubscribes `pattern`. Solace counts one subscription per distinct topic string per
    /// session, so this is only done when no other local subscription uses the same pattern
    /// (checked by the caller through the router).
    pub(crate) fn release_subscription(&self, pattern: &TopicPattern, still_used: bool) {
        if still_used {
            return;
        }
        let session = self.session.clone();
        let topic = pattern.as_str().to_owned();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(move || {
                if let Some(s) = lock(&session).as_ref() {
                    let _ = s.unsubscribe(topic);
                }
            });
        }
    }

    pub(crate) async fn durable(
        &self,
        _name: &str,
        _patterns: &[TopicPattern],
    ) -> Result<DurableSubscription, MeshError> {
        Err(MeshError::new(MeshErrorKind::Unsupported {
            what: "durable subscriptions on solace:// (solace-rs 0.8 has no queue flows); use Solace's MQTT service with mqtt:// for durable consumers".to_owned(),
        }))
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) async fn close(&self) {
        self.connected.store(false, Ordering::Release);
        let session = self.session.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(s) = lock(&session).take() {
                let _ = s.disconnect();
            }
        })
        .await;
        for w in lock(&self.waiters).drain(..) {
            let _ = w.send(Err(MeshError::closed()));
        }
    }
}
