//! The event mesh client: publish to topics, subscribe to Solace-syntax patterns, consume
//! durably with explicit acks, on every backend with the same semantics.
//!
//! ```no_run
//! use bytes::Bytes;
//! use ddiscord_mesh::{Delivery, Mesh, MeshConfig};
//! use ddiscord_model::topic::{Topic, TopicPattern};
//! use futures::StreamExt as _;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mesh = Mesh::connect(MeshConfig::new("mqtt://127.0.0.1:1883")).await?;
//! let mut sub = mesh.subscribe(&TopicPattern::new("discord/*/*/MESSAGE_*")?).await?;
//! let topic = Topic::new("discord/0/81384788765712384/MESSAGE_CREATE")?;
//! mesh.publish(&topic, Bytes::from_static(b"{}"), Delivery::Guaranteed).await?;
//! let msg = sub.next().await;
//! # Ok(()) }
//! ```
//!
//! Backends, chosen by [`MeshConfig::url`]:
//! - `mqtt://` (MQTT 3.1.1) and `mqtt5://` (MQTT 5), through rumqttc: see [`mqtt`'s
//!   docs](self#mqtt). Tested against Mosquitto.
//! - `embedded://ip:port`: starts (or attaches to) an in-process rumqttd broker
//!   ([`EmbeddedBroker`]) and connects to it over MQTT 3.1.1.
//! - `solace://host:port` (cargo feature `solace`): Solace PubSub+ native SMF through
//!   solace-rs. **Untested here**: it needs Solace's C library, which this environment cannot
//!   download; it is only type-checked.
//!
//! # Semantics (every backend)
//! - **Patterns** use Solace syntax ([`TopicPattern`]). Backends subscribe to the nearest
//!   filter they can express and every message is matched again locally, so a subscription
//!   never sees a topic its pattern does not match.
//! - **Delivery**: [`Delivery::Direct`] is at-most-once (QoS 0); [`Delivery::Guaranteed`] is
//!   at-least-once (QoS 1) and [`Mesh::publish`] resolves only after the broker's
//!   acknowledgement. Messages from one publisher arrive in order.
//! - **Live subscriptions** ([`Mesh::subscribe`]): every subscriber gets every matching
//!   message while connected. Bounded buffers: a subscriber that falls behind loses messages,
//!   and each loss is a [`MeshEvent::SlowConsumer`], a metric and a log line.
//! - **Durable subscriptions** ([`Mesh::durable`]): one persistent session per name; the
//!   broker queues while it is offline; unacknowledged messages are redelivered after a crash.
//!   They never drop: a slow consumer stops the reading and the broker keeps the messages.
//! - **Connection loss**: retried with exponential backoff (100 ms to 5 s) and a log line per
//!   attempt; subscriptions are restored and unacknowledged guaranteed publishes replayed.
//!   Publishing waits (bounded) while disconnected.
//!
//! # MQTT
//! Live subscriptions use QoS 1 filters on a clean session (a guaranteed publish reaches live
//! subscribers at QoS 1, a direct one at QoS 0). rumqttc has no per-publish future, so the
//! client correlates `Outgoing::Publish(pkid)` with `Incoming::PubAck(pkid)` itself; at most
//! 500 publishes are unacknowledged per connection. Brokers must keep QoS 1 messages for
//! offline sessions: Mosquitto's defaults (`max_queued_messages 1000`) silently drop them, so
//! use the shipped `k8s/overlays/self-contained/mosquitto/mosquitto.conf` and watch `$SYS/broker/publish/messages/dropped`.
//!
//! # Metrics
//! See [`metrics`] for the counter names.

mod backoff;
mod config;
#[cfg(feature = "embedded")]
mod embedded;
mod error;
pub mod metrics;
mod mqtt;
mod router;
pub mod secret;
#[cfg(feature = "solace")]
mod solace;
mod subscription;
pub mod tls;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{broadcast, oneshot};

pub use self::config::{
    DEFAULT_DURABLE_CAPACITY, DEFAULT_MAX_INFLIGHT, DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_MESH_URL,
    DEFAULT_SUBSCRIPTION_CAPACITY, MESH_PASSWORD_ENV, MESH_TLS_ENV_PREFIX, MESH_URL_ENV,
    MESH_USERNAME_ENV, MeshConfig, MqttVersion,
};
#[cfg(feature = "embedded")]
pub use self::embedded::{EMBEDDED_MAX_INFLIGHT, EMBEDDED_MAX_PACKET_BYTES, EmbeddedBroker};
pub use self::error::{MeshError, MeshErrorKind};
pub use self::secret::Secret;
pub use self::subscription::{Delivered, DurableSubscription, Subscription};
pub use self::tls::TlsFiles;

use self::config::Endpoint;
use self::mqtt::{MqttBackend, MqttTarget};
use self::router::Router;
use ddiscord_model::topic::{Topic, TopicPattern};

/// Capacity of the [`Mesh::events`] channel; a receiver that lags this far behind misses
/// events (tokio `broadcast` reports how many).
const EVENTS_CAPACITY: usize = 1024;

/// Delivery guarantee of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// At-most-once (MQTT QoS 0, Solace direct): cheapest, lost if the connection drops or
    /// a subscriber is too slow.
    Direct,
    /// At-least-once (MQTT QoS 1, Solace guaranteed/persistent): [`Mesh::publish`] resolves
    /// after the broker's acknowledgement; replayed after a reconnect.
    Guaranteed,
}

/// The broker's acknowledgement of a publish queued with [`Mesh::publish_queued`].
///
/// A future with output `Result<(), MeshError>`: for [`Delivery::Guaranteed`] it resolves when
/// the broker has acknowledged the message (MQTT PUBACK, MQTT 5 §3.4,
/// <https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html#_Toc3901121>; a Solace
/// guaranteed-message acknowledgement,
/// <https://docs.solace.com/API/API-Developer-Guide/Acknowledging-Published-.htm>); for
/// [`Delivery::Direct`] it is ready at once. After a reconnect the connection replays an
/// unacknowledged message (in its original order) and the future resolves on that copy's
/// acknowledgement.
///
/// Dropping it does not cancel the publish: the message is already queued.
///
/// # Errors
/// [`MeshErrorKind::Refused`] when the broker refused the message (MQTT 5 reason code),
/// [`MeshErrorKind::Closed`] when the mesh was closed before the acknowledgement,
/// [`MeshErrorKind::Backend`] when the broker dropped the connection every time the message
/// was sent (larger than its packet limit?).
#[derive(Debug)]
#[must_use = "a PublishAck does nothing unless awaited; drop it to ignore the acknowledgement"]
pub struct PublishAck {
    rx: Option<oneshot::Receiver<Result<(), MeshError>>>,
}

impl PublishAck {
    pub(crate) fn new(rx: Option<oneshot::Receiver<Result<(), MeshError>>>) -> Self {
        Self { rx }
    }
}

impl Future for PublishAck {
    type Output = Result<(), MeshError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.rx.as_mut() {
            None => Poll::Ready(Ok(())),
            Some(rx) => match Pin::new(rx).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(result) => {
                    self.rx = None;
                    Poll::Ready(result.unwrap_or_else(|_| Err(MeshError::closed())))
                }
            },
        }
    }
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic it was published on.
    pub topic: String,
    /// The payload (for Discord events, an [`ddiscord_model::Envelope`]).
    pub payload: Bytes,
}

/// Something that happened to the mesh connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeshEvent {
    /// A connection to the broker is up (also after every reconnect).
    Connected,
    /// A connection to the broker was lost (it is being retried) or closed.
    Disconnected {
        /// The error that ended it.
        reason: String,
    },
    /// A subscription's buffer is full and messages for it are being dropped. Sent on the
    /// first drop and then at most once a second while it keeps dropping.
    SlowConsumer {
        /// The subscription's pattern.
        pattern: String,
        /// Messages dropped for it so far.
        dropped: u64,
    },
}

enum Backend {
    Mqtt(MqttBackend, MqttTarget),
    #[cfg(feature = "solace")]
    Solace(solace::SolaceBackend),
}

struct Inner {
    config: MeshConfig,
    backend: Backend,
    router: Arc<Router>,
    events: broadcast::Sender<MeshEvent>,
    /// Held so the broker lives as long as the mesh; read only by [`Mesh::embedded`].
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    embedded: Option<EmbeddedSlot>,
}

/// What [`Inner`] keeps of an embedded broker (nothing without the `embedded` feature).
#[cfg(feature = "embedded")]
type EmbeddedSlot = EmbeddedBroker;
#[cfg(not(feature = "embedded"))]
type EmbeddedSlot = std::convert::Infallible;

/// A connection to the event mesh. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Mesh {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("url", &self.inner.config.redacted_url())
            .finish_non_exhaustive()
    }
}

fn generated_client_id() -> String {
    format!("ddiscord-{:016x}", rand::random::<u64>())
}

impl Mesh {
    /// Connects to the broker of `config.url` (starting the embedded broker for
    /// `embedded://`). While the broker is down it retries with exponential backoff and logs
    /// each attempt, so this waits until the broker is up; wrap it in a timeout to bound that.
    ///
    /// # Errors
    /// [`MeshErrorKind::InvalidUrl`] for a bad URL, [`MeshErrorKind::Connect`] when the broker
    /// refuses the connection, [`MeshErrorKind::Embedded`] when the embedded broker cannot
    /// start, [`MeshErrorKind::Unsupported`] for `solace://` without the `solace` feature and
    /// `embedded://` without the `embedded` feature.
    pub async fn connect(config: MeshConfig) -> Result<Mesh, MeshError> {
        let endpoint = config.endpoint()?;
        let (events, _) = broadcast::channel(EVENTS_CAPACITY);
        let router = Arc::new(Router::new(config.subscription_capacity, events.clone()));
        let client_id = config.client_id.clone().unwrap_or_else(generated_client_id);
        // Every endpoint but Solace is an MQTT broker: a running one, or the embedded one
        // started here first.
        let (target, embedded): (MqttTarget, Option<EmbeddedSlot>) = match endpoint {
            Endpoint::Mqtt {
                version,
                tls,
                host,
                port,
                username,
                password,
            } => (
                MqttTarget {
                    version,
                    host,
                    port,
                    url: config.redacted_url(),
                    tls: if tls {
                        Some(config.tls.client_config().map_err(|e| {
                            MeshError::with_source(
                                MeshErrorKind::Credentials {
                                    reason: "the TLS files cannot be used".to_owned(),
                                },
                                e,
                            )
                        })?)
                    } else {
                        None
                    },
                    credentials: username.map(|u| (u, password.unwrap_or_else(|| Secret::new("")))),
                },
                None,
            ),
            #[cfg(not(feature = "embedded"))]
            Endpoint::Embedded { .. } => {
                return Err(MeshError::new(MeshErrorKind::Unsupported {
                    what: "embedded:// needs the `embedded` cargo feature of ddiscord-mesh (the \
                           `ddiscord` binary has it; connect SDK clients to a running broker, \
                           e.g. mqtt://127.0.0.1:1883)"
                        .to_owned(),
                }));
            }
            #[cfg(feature = "embedded")]
            Endpoint::Embedded { addr } => {
                let broker = tokio::task::spawn_blocking(move || EmbeddedBroker::start(addr))
                    .await
                    .map_err(|e| {
                        MeshError::with_source(
                            MeshErrorKind::Embedded {
                                addr: addr.to_string(),
                            },
                            e,
                        )
                    })??;
                let bound = broker.local_addr();
                let target = MqttTarget {
                    version: MqttVersion::V311,
                    host: bound.ip().to_string(),
                    port: bound.port(),
                    url: broker.mqtt_url(),
                    tls: None,
                    credentials: None,
                };
                (target, Some(broker))
            }
            #[cfg(feature = "solace")]
            Endpoint::Solace { host, port } => {
                let b = solace::SolaceBackend::connect(
                    &host,
                    port,
                    client_id,
                    config.max_payload_bytes,
                    router.clone(),
                    events.clone(),
                )
                .await?;
                return Ok(Self::assemble(
                    config,
                    Backend::Solace(b),
                    router,
                    events,
                    None,
                ));
            }
            #[cfg(not(feature = "solace"))]
            Endpoint::Solace { .. } => {
                return Err(MeshError::new(MeshErrorKind::Unsupported {
                    what: "solace:// needs the `solace` cargo feature of ddiscord-mesh".to_owned(),
                }));
            }
        };
        let b = MqttBackend::connect(
            &target,
            client_id,
            config.max_payload_bytes,
            config.max_inflight,
            router.clone(),
            events.clone(),
        )
        .await?;
        Ok(Self::assemble(
            config,
            Backend::Mqtt(b, target),
            router,
            events,
            embedded,
        ))
    }

    fn assemble(
        config: MeshConfig,
        backend: Backend,
        router: Arc<Router>,
        events: broadcast::Sender<MeshEvent>,
        embedded: Option<EmbeddedSlot>,
    ) -> Mesh {
        Mesh {
            inner: Arc::new(Inner {
                config,
                backend,
                router,
                events,
                embedded,
            }),
        }
    }

    /// The configuration this mesh was connected with.
    pub fn config(&self) -> &MeshConfig {
        &self.inner.config
    }

    /// The embedded broker, for `embedded://` URLs (cargo feature `embedded`); its
    /// [`EmbeddedBroker::mqtt_url`] is what scripts in other processes connect to.
    #[cfg(feature = "embedded")]
    pub fn embedded(&self) -> Option<&EmbeddedBroker> {
        self.inner.embedded.as_ref()
    }

    /// Publishes `payload` on `topic` and waits for the broker: [`Mesh::publish_queued`]
    /// followed by awaiting its [`PublishAck`].
    ///
    /// [`Delivery::Guaranteed`] resolves after the broker's acknowledgement (PUBACK); while
    /// the broker is unreachable it waits (and the message is sent after the reconnect).
    /// [`Delivery::Direct`] resolves once the message is queued for sending. Either waits
    /// when [`MeshConfig::max_inflight`] publishes are already unacknowledged (backpressure).
    ///
    /// # Errors
    /// As [`Mesh::publish_queued`] and [`PublishAck`].
    pub async fn publish(
        &self,
        topic: &Topic,
        payload: Bytes,
        delivery: Delivery,
    ) -> Result<(), MeshError> {
        self.publish_queued(topic, payload, delivery).await?.await
    }

    /// Queues `payload` on `topic`; returns once it is queued on the connection, in call
    /// order, with the [`PublishAck`] that resolves on the broker's acknowledgement.
    ///
    /// Two-phase publishing keeps order under backpressure: awaiting one `publish_queued`
    /// after the other puts the messages on the wire in that order (the broker then delivers
    /// them to each subscriber and durable session in that order, MQTT 5 §4.6,
    /// <https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html#_Toc3901240>), while
    /// the acknowledgements are awaited concurrently. Concurrent callers are served first come,
    /// first served. It waits while [`MeshConfig::max_inflight`] guaranteed publishes are
    /// unacknowledged (MQTT; on Solace it waits for the C library to take the message).
    ///
    /// # Errors
    /// [`MeshErrorKind::PayloadTooLarge`] over [`MeshConfig::max_payload_bytes`] (checked
    /// before queuing), [`MeshErrorKind::Closed`] after [`Mesh::close`],
    /// [`MeshErrorKind::Backend`] when the backend cannot take the message.
    pub async fn publish_queued(
        &self,
        topic: &Topic,
        payload: Bytes,
        delivery: Delivery,
    ) -> Result<PublishAck, MeshError> {
        let rx = match &self.inner.backend {
            Backend::Mqtt(b, _) => b.publish_queued(topic.as_str(), payload, delivery).await?,
            #[cfg(feature = "solace")]
            Backend::Solace(b) => b.publish_queued(topic.as_str(), payload, delivery).await?,
        };
        Ok(PublishAck::new(rx))
    }

    /// Subscribes to `pattern` (Solace syntax): every message whose topic matches, from now
    /// on, while connected. Returns after the broker has confirmed the subscription.
    ///
    /// # Errors
    /// [`MeshErrorKind::Closed`] after [`Mesh::close`], [`MeshErrorKind::Backend`] when the
    /// broker refuses the subscription.
    pub async fn subscribe(&self, pattern: &TopicPattern) -> Result<Subscription, MeshError> {
        let added = self.inner.router.add(pattern.clone());
        let id = added.id;
        let inner = self.inner.clone();
        match &self.inner.backend {
            Backend::Mqtt(b, _) => {
                let filter = pattern.to_mqtt_filter();
                if let Err(e) = b.add_filter(&filter).await {
                    self.inner.router.remove(id);
                    return Err(e);
                }
                let release = Box::new(move || {
                    inner.router.remove(id);
                    #[allow(irrefutable_let_patterns)]
                    if let Backend::Mqtt(b, _) = &inner.backend {
                        b.release_filter(filter);
                    }
                });
                Ok(Subscription::new(
                    pattern.clone(),
                    added.rx,
                    added.dropped,
                    release,
                ))
            }
            #[cfg(feature = "solace")]
            Backend::Solace(b) => {
                if let Err(e) = b.add_subscription(pattern).await {
                    self.inner.router.remove(id);
                    return Err(e);
                }
                let pattern_owned = pattern.clone();
                let release = Box::new(move || {
                    inner.router.remove(id);
                    let still_used = inner.router.uses(&pattern_owned);
                    if let Backend::Solace(b) = &inner.backend {
                        b.release_subscription(&pattern_owned, still_used);
                    }
                });
                Ok(Subscription::new(
                    pattern.clone(),
                    added.rx,
                    added.dropped,
                    release,
                ))
            }
        }
    }

    /// Opens the durable (persistent, at-least-once) subscription `name` on `patterns`.
    ///
    /// On MQTT it is a session of its own with client id `name`, `clean_session = false`
    /// (MQTT 5: clean start false, session expiry 7 days) and QoS 1 subscriptions: messages
    /// published while no consumer is connected are queued by the broker and delivered on
    /// reconnect; messages not acknowledged with [`Delivered::ack`] are delivered again
    /// (`redelivered = true`) after a crash or reconnect. Only one consumer per name may be
    /// connected: a second one takes the session over (the broker disconnects the first).
    /// This is the building block of consumer groups: one durable session per partition.
    ///
    /// Returns once the broker has confirmed the subscriptions.
    ///
    /// # Errors
    /// [`MeshErrorKind::InvalidName`] for an empty name, one over 128 bytes, or with
    /// whitespace, control characters, `+` or `#`; [`MeshErrorKind::NoPatterns`] for an empty
    /// `patterns`; [`MeshErrorKind::Connect`] when the broker
    /// refuses the session; [`MeshErrorKind::Backend`] when it refuses a subscription.
    pub async fn durable(
        &self,
        name: &str,
        patterns: &[TopicPattern],
    ) -> Result<DurableSubscription, MeshError> {
        check_durable_name(name)?;
        if patterns.is_empty() {
            return Err(MeshError::new(MeshErrorKind::NoPatterns));
        }
        match &self.inner.backend {
            Backend::Mqtt(_, target) => {
                MqttBackend::durable(
                    target,
                    name,
                    patterns,
                    self.inner.config.durable_capacity,
                    self.inner.config.max_payload_bytes,
                    self.inner.events.clone(),
                )
                .await
            }
            #[cfg(feature = "solace")]
            Backend::Solace(b) => b.durable(name, patterns).await,
        }
    }

    /// Whether the main connection to the broker is up right now (for readiness probes,
    /// `/readyz`). Durable subscriptions have their own connections.
    pub fn is_connected(&self) -> bool {
        match &self.inner.backend {
            Backend::Mqtt(b, _) => b.is_connected(),
            #[cfg(feature = "solace")]
            Backend::Solace(b) => b.is_connected(),
        }
    }

    /// Lifecycle events: connected, disconnected, slow consumer.
    pub fn events(&self) -> broadcast::Receiver<MeshEvent> {
        self.inner.events.subscribe()
    }

    /// Disconnects cleanly. Pending publishes fail with [`MeshErrorKind::Closed`] and every
    /// [`Subscription`] stream ends. Durable subscriptions have their own connections and are
    /// closed with [`DurableSubscription::close`].
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Mqtt(b, _) => b.close().await,
            #[cfg(feature = "solace")]
            Backend::Solace(b) => b.close().await,
        }
        self.inner.router.close_all();
    }
}

fn check_durable_name(name: &str) -> Result<(), MeshError> {
    let bad = |reason: &str| {
        Err(MeshError::new(MeshErrorKind::InvalidName {
            name: name.chars().take(200).collect(),
            reason: reason.to_owned(),
        }))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 128 {
        return bad("it is longer than 128 bytes");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '+' || c == '#')
    {
        return bad("whitespace, control characters, `+` and `#` are not allowed");
    }
    Ok(())
}
