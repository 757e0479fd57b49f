//! A minimal MQTT mesh client with the shape of `ddiscord::mesh` (connect, subscribe, publish,
//! close), used until the core's mesh module is available to this crate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ddiscord::{Topic, TopicPattern};
use futures::Stream;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// `mqtt://host:port`.
    pub url: String,
    /// Generated when `None`.
    pub client_id: Option<String>,
    /// Events buffered per subscription.
    pub subscription_capacity: usize,
}

impl MeshConfig {
    /// A config for `url` with defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_id: None,
            subscription_capacity: 65_536,
        }
    }
}

/// Delivery mode of a publish.
#[derive(Debug, Clone, Copy)]
pub enum Delivery {
    /// QoS 0.
    #[allow(dead_code)]
    Direct,
    /// QoS 1.
    Guaranteed,
}

/// A received message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Body.
    pub payload: Bytes,
}

/// Mesh failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MeshError(String);

struct Route {
    pattern: TopicPattern,
    tx: mpsc::Sender<Message>,
}

/// A connected client.
#[derive(Clone)]
pub struct Mesh {
    client: AsyncClient,
    routes: Arc<Mutex<Vec<Route>>>,
    capacity: usize,
}

impl Mesh {
    /// Connects (waits for the broker's CONNACK, up to 10 s).
    ///
    /// # Errors
    /// A bad URL or no CONNACK.
    pub async fn connect(config: MeshConfig) -> Result<Self, MeshError> {
        let rest = config.url.strip_prefix("mqtt://").ok_or_else(|| {
            MeshError(format!("mesh URL {:?} is not mqtt://host:port", config.url))
        })?;
        let (host, port) = rest
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.trim_end_matches('/').parse::<u16>().ok()?)))
            .ok_or_else(|| MeshError(format!("mesh URL {:?} has no port", config.url)))?;
        let id = config
            .client_id
            .unwrap_or_else(|| format!("ddiscord-node-{:016x}", rand::random::<u64>()));
        let mut opts = MqttOptions::new(id, host, port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_max_packet_size(2 << 20, 2 << 20);
        let (client, mut eventloop) = AsyncClient::new(opts, 1024);
        let routes: Arc<Mutex<Vec<Route>>> = Arc::default();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready_tx = Some(ready_tx);
        let r = Arc::clone(&routes);
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let topic = p.topic;
                        let msg = Message {
                            topic,
                            payload: p.payload,
                        };
                        let mut routes = r.lock().unwrap_or_else(|e| e.into_inner());
                        routes.retain(|route| !route.tx.is_closed());
                        for route in routes.iter() {
                            if route.pattern.matches(&msg.topic) {
                                let _ = route.tx.try_send(msg.clone());
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::RequestsDone) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "mesh connection lost; retrying in 500 ms");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .map_err(|_| MeshError(format!("no CONNACK from {} within 10 s", config.url)))?
            .map_err(|_| MeshError("mesh connection task ended".into()))?;
        Ok(Self {
            client,
            routes,
            capacity: config.subscription_capacity,
        })
    }

    /// Subscribes.
    ///
    /// # Errors
    /// The client is closed.
    pub async fn subscribe(
        &self,
        pattern: &TopicPattern,
    ) -> Result<impl Stream<Item = Message> + Send + 'static + use<>, MeshError> {
        let (tx, rx) = mpsc::channel(self.capacity);
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Route {
                pattern: pattern.clone(),
                tx,
            });
        self.client
            .subscribe(pattern.to_mqtt_filter(), QoS::AtMostOnce)
            .await
            .map_err(|e| MeshError(e.to_string()))?;
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
    }

    /// Publishes.
    ///
    /// # Errors
    /// The client is closed.
    pub async fn publish(
        &self,
        topic: &Topic,
        payload: Bytes,
        delivery: Delivery,
    ) -> Result<(), MeshError> {
        let qos = match delivery {
            Delivery::Direct => QoS::AtMostOnce,
            Delivery::Guaranteed => QoS::AtLeastOnce,
        };
        self.client
            .publish_bytes(topic.as_str(), qos, false, payload)
            .await
            .map_err(|e| MeshError(e.to_string()))
    }

    /// Disconnects.
    pub async fn close(&self) {
        let _ = self.client.disconnect().await;
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
