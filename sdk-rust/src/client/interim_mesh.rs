//! A minimal MQTT 3.1.1 transport with the shape of `ddiscord::mesh` (direct subscriptions and
//! publishes only), used by the client until the mesh module is merged; then this file goes and
//! `client/mod.rs` imports `crate::mesh` instead.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use tokio::sync::{broadcast, mpsc};

use crate::topic::{Topic, TopicPattern};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// `mqtt://host:port`.
    pub url: String,
    /// Generated when `None`.
    pub client_id: Option<String>,
    /// Events buffered per subscription before it is a slow consumer.
    pub subscription_capacity: usize,
    /// Largest payload in bytes.
    pub max_payload_bytes: usize,
}

impl MeshConfig {
    /// A configuration for `url` with defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_id: None,
            subscription_capacity: 65_536,
            max_payload_bytes: 1 << 20,
        }
    }
}

/// Delivery guarantee of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// QoS 0.
    Direct,
    /// QoS 1.
    Guaranteed,
}

/// A message received on a subscription.
#[derive(Debug, Clone)]
pub struct Message {
    /// The topic it was published on.
    pub topic: String,
    /// The body.
    pub payload: Bytes,
}

/// Connection events.
#[derive(Debug, Clone)]
pub enum MeshEvent {
    /// Connected or reconnected.
    Connected,
    /// The connection dropped.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A subscriber did not keep up and events were dropped for it.
    SlowConsumer {
        /// The subscription.
        pattern: String,
        /// Events dropped so far.
        dropped: u64,
    },
}

/// A mesh error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MeshError {
    message: String,
}

impl MeshError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

struct Sub {
    pattern: TopicPattern,
    tx: mpsc::Sender<Message>,
    dropped: u64,
}

struct Inner {
    client: AsyncClient,
    subs: Mutex<Vec<Sub>>,
    events: broadcast::Sender<MeshEvent>,
    capacity: usize,
    max_payload: usize,
}

/// A connection to an MQTT broker.
#[derive(Clone)]
pub struct Mesh {
    inner: Arc<Inner>,
}

/// A stream of messages matching one pattern.
pub type Subscription = tokio_stream::wrappers::ReceiverStream<Message>;

impl Mesh {
    /// Connects; resolves once the broker accepted the connection.
    ///
    /// # Errors
    /// [`MeshError`] for a URL that is not `mqtt://host:port`.
    pub async fn connect(config: MeshConfig) -> Result<Self, MeshError> {
        let rest = config
            .url
            .strip_prefix("mqtt://")
            .ok_or_else(|| MeshError::new(format!("unsupported mesh URL {:?}", config.url)))?;
        let (host, port) = rest
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.trim_end_matches('/').parse().ok()?)))
            .ok_or_else(|| MeshError::new(format!("mesh URL {:?} needs host:port", config.url)))?;
        let id = config
            .client_id
            .unwrap_or_else(|| format!("dd-{:016x}", rand::random::<u64>()));
        let mut opts = MqttOptions::new(id, host, port);
        opts.set_keep_alive(Duration::from_secs(15));
        opts.set_max_packet_size(
            config.max_payload_bytes + 1024,
            config.max_payload_bytes + 1024,
        );
        let (client, mut eventloop) = AsyncClient::new(opts, 1024);
        let (events, _) = broadcast::channel(256);
        let inner = Arc::new(Inner {
            client,
            subs: Mutex::new(Vec::new()),
            events,
            capacity: config.subscription_capacity,
            max_payload: config.max_payload_bytes,
        });
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut connected_once = false;
            loop {
                let polled = eventloop.poll().await;
                let Some(inner) = weak.upgrade() else { break };
                match polled {
                    Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                        let _ = inner.events.send(MeshEvent::Connected);
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(());
                        }
                        if connected_once {
                            let filters: Vec<String> = lock(&inner.subs)
                                .iter()
                                .map(|s| s.pattern.to_mqtt_filter())
                                .collect();
                            for f in filters {
                                let _ = inner.client.try_subscribe(f, QoS::AtMostOnce);
                            }
                        }
                        connected_once = true;
                    }
                    Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                        inner.deliver(p.topic, p.payload)
                    }
                    Ok(MqttEvent::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(e) => {
                        let _ = inner.events.send(MeshEvent::Disconnected {
                            reason: e.to_string(),
                        });
                        drop(inner);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        let _ = ready_rx.await;
        Ok(Self { inner })
    }

    /// Publishes `payload` on `topic`.
    ///
    /// # Errors
    /// [`MeshError`] when the payload is too large or the client is closed.
    pub async fn publish(
        &self,
        topic: &Topic,
        payload: Bytes,
        delivery: Delivery,
    ) -> Result<(), MeshError> {
        if payload.len() > self.inner.max_payload {
            return Err(MeshError::new(format!(
                "payload of {} bytes exceeds {} bytes",
                payload.len(),
                self.inner.max_payload
            )));
        }
        let qos = match delivery {
            Delivery::Direct => QoS::AtMostOnce,
            Delivery::Guaranteed => QoS::AtLeastOnce,
        };
        self.inner
            .client
            .publish_bytes(topic.as_str(), qos, false, payload)
            .await
            .map_err(|e| MeshError::new(e.to_string()))
    }

    /// Subscribes to `pattern`.
    ///
    /// # Errors
    /// [`MeshError`] when the client is closed.
    pub async fn subscribe(&self, pattern: &TopicPattern) -> Result<Subscription, MeshError> {
        let (tx, rx) = mpsc::channel(self.inner.capacity.max(1));
        lock(&self.inner.subs).push(Sub {
            pattern: pattern.clone(),
            tx,
            dropped: 0,
        });
        self.inner
            .client
            .subscribe(pattern.to_mqtt_filter(), QoS::AtMostOnce)
            .await
            .map_err(|e| MeshError::new(e.to_string()))?;
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
    }

    /// Connection events.
    pub fn events(&self) -> broadcast::Receiver<MeshEvent> {
        self.inner.events.subscribe()
    }

    /// Disconnects.
    pub async fn close(&self) {
        let _ = self.inner.client.disconnect().await;
    }
}

impl Inner {
    fn deliver(&self, topic: String, payload: Bytes) {
        let mut subs = lock(&self.subs);
        subs.retain(|s| !s.tx.is_closed());
        for sub in subs.iter_mut() {
            if !sub.pattern.matches(&topic) {
                continue;
            }
            let msg = Message {
                topic: topic.clone(),
                payload: payload.clone(),
            };
            if sub.tx.try_send(msg).is_err() {
                sub.dropped += 1;
                let _ = self.events.send(MeshEvent::SlowConsumer {
                    pattern: sub.pattern.to_string(),
                    dropped: sub.dropped,
                });
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps the `Stream` import used in docs of the real module's shape.
#[allow(dead_code)]
fn _assert_stream(s: Subscription) -> impl Stream<Item = Message> {
    s
}
