//! The MQTT backend (MQTT 3.1.1 and MQTT 5 through rumqttc 0.25).
//!
//! - Live subscriptions share the main connection (clean session, QoS 1 filters); patterns
//!   are translated with [`ddiscord_model::topic::TopicPattern::to_mqtt_filter`] and matched again
//!   locally.
//! - Guaranteed publishes (QoS 1) resolve on the broker's PUBACK; see [`tracker`].
//! - Durable subscriptions each get their own persistent session; see [`durable`].
//! - Lost connections are retried with exponential backoff (100 ms doubling to 5 s).

mod conn;
mod durable;
mod filters;
mod tracker;
mod wire;

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::broadcast;

pub(crate) use self::conn::AckRx;
use self::conn::Conn;
use self::wire::{V4, V5, WireOptions};
use super::config::MqttVersion;
use super::error::MeshError;
use super::router::Router;
use super::secret::Secret;
use super::subscription::DurableSubscription;
use super::{Delivery, MeshEvent};
use ddiscord_model::topic::TopicPattern;

/// Unacknowledged outgoing QoS 1 publishes per durable connection (which only publishes
/// acknowledgements).
const INFLIGHT: u16 = super::config::DEFAULT_MAX_INFLIGHT;
/// rumqttc request channel capacity.
const CHANNEL: usize = 1024;
/// Room for the fixed header, topic and packet id on top of the payload.
const PACKET_OVERHEAD: usize = 1024;

/// A connected MQTT backend.
pub(crate) enum MqttBackend {
    V4(Arc<Conn<V4>>),
    V5(Arc<Conn<V5>>),
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub(crate) struct MqttTarget {
    pub version: MqttVersion,
    pub host: String,
    pub port: u16,
    /// The URL for logs and errors, password redacted.
    pub url: String,
    /// TLS, for `mqtts://` and `mqtt5s://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// User name and password.
    pub credentials: Option<(String, Secret)>,
}

impl MqttTarget {
    fn options(
        &self,
        client_id: String,
        clean: bool,
        max_payload: usize,
        inflight: u16,
    ) -> WireOptions {
        WireOptions {
            client_id,
            host: self.host.clone(),
            port: self.port,
            clean,
            manual_acks: !clean,
            max_packet_bytes: max_payload.saturating_add(PACKET_OVERHEAD),
            inflight: inflight.max(1),
            channel_capacity: CHANNEL,
            tls: self.tls.clone(),
            credentials: self.credentials.clone(),
        }
    }
}

impl MqttBackend {
    pub(crate) async fn connect(
        target: &MqttTarget,
        client_id: String,
        max_payload: usize,
        inflight: u16,
        router: Arc<Router>,
        events: broadcast::Sender<MeshEvent>,
    ) -> Result<Self, MeshError> {
        let options = target.options(client_id, true, max_payload, inflight);
        let url = target.url.clone();
        Ok(match target.version {
            MqttVersion::V311 => {
                Self::V4(Conn::connect(options, url, max_payload, router, events).await?)
            }
            MqttVersion::V5 => {
                Self::V5(Conn::connect(options, url, max_payload, router, events).await?)
            }
        })
    }

    pub(crate) async fn publish_queued(
        &self,
        topic: &str,
        payload: Bytes,
        delivery: Delivery,
    ) -> Result<Option<AckRx>, MeshError> {
        match self {
            Self::V4(c) => c.publish_queued(topic, payload, delivery).await,
            Self::V5(c) => c.publish_queued(topic, payload, delivery).await,
        }
    }

    pub(crate) async fn add_filter(&self, filter: &str) -> Result<(), MeshError> {
        match self {
            Self::V4(c) => c.add_filter(filter).await,
            Self::V5(c) => c.add_filter(filter).await,
        }
    }

    pub(crate) fn release_filter(&self, filter: String) {
        match self {
            Self::V4(c) => c.release_filter(filter),
            Self::V5(c) => c.release_filter(filter),
        }
    }

    pub(crate) fn is_connected(&self) -> bool {
        match self {
            Self::V4(c) => c.is_connected(),
            Self::V5(c) => c.is_connected(),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::V4(c) => c.close().await,
            Self::V5(c) => c.close().await,
        }
    }

    pub(crate) async fn durable(
        target: &MqttTarget,
        name: &str,
        patterns: &[TopicPattern],
        capacity: usize,
        max_payload: usize,
        events: broadcast::Sender<MeshEvent>,
    ) -> Result<DurableSubscription, MeshError> {
        let options = target.options(name.to_owned(), false, max_payload, INFLIGHT);
        let url = target.url.clone();
        let patterns = patterns.to_vec();
        match target.version {
            MqttVersion::V311 => {
                durable::open::<V4>(options, url, name.to_owned(), patterns, capacity, events).await
            }
            MqttVersion::V5 => {
                durable::open::<V5>(options, url, name.to_owned(), patterns, capacity, events).await
            }
        }
    }
}
