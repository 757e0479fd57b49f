//! One face over rumqttc's MQTT 3.1.1 and MQTT 5 clients, so that the connection logic
//! ([`super::conn`], [`super::durable`]) is written once.
//!
//! rumqttc reference: <https://docs.rs/rumqttc/0.25>. MQTT 3.1.1:
//! <https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/mqtt-v3.1.1.html>; MQTT 5:
//! <https://docs.oasis-open.org/mqtt/mqtt/v5.0/mqtt-v5.0.html>.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::error::Source;
use crate::secret::Secret;

/// What a connection needs to be set up.
#[derive(Debug, Clone)]
pub(crate) struct WireOptions {
    pub client_id: String,
    pub host: String,
    pub port: u16,
    /// `false` for durable sessions (MQTT 5: clean start false plus a session expiry).
    pub clean: bool,
    /// Acknowledge incoming QoS 1 publishes only when asked (durable consumption).
    pub manual_acks: bool,
    /// Largest packet in bytes, both directions.
    pub max_packet_bytes: usize,
    /// Unacknowledged outgoing QoS 1 publishes (and, for MQTT 5, the receive maximum).
    pub inflight: u16,
    /// Capacity of rumqttc's request channel.
    pub channel_capacity: usize,
    /// TLS, when the URL asks for it.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// User name and password for CONNECT.
    pub credentials: Option<(String, Secret)>,
}

impl WireOptions {
    fn transport(&self) -> rumqttc::Transport {
        match &self.tls {
            Some(config) => rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(
                config.clone(),
            )),
            None => rumqttc::Transport::tcp(),
        }
    }
}

/// Keep-alive of every connection: a dead broker is noticed within 1.5× this.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// Session expiry for durable MQTT 5 sessions: 7 days, as `persistent_client_expiration` in
/// the shipped Mosquitto config.
pub(crate) const SESSION_EXPIRY_SECS: u32 = 7 * 24 * 3600;

/// An event of the event loop, reduced to what the mesh acts on.
pub(crate) enum WireEvent<P> {
    ConnAck {
        session_present: bool,
    },
    Publish {
        topic: Bytes,
        payload: Bytes,
        dup: bool,
        raw: P,
    },
    PubAck {
        pkid: u16,
        /// The MQTT 5 reason code of a refusal (0x80 or above); `None` on success and on
        /// MQTT 3.1.1, whose PUBACK has no reason code.
        refused: Option<u8>,
    },
    SubAck {
        pkid: u16,
        failure: Option<String>,
    },
    OutgoingPublish(u16),
    OutgoingSubscribe(u16),
    /// A DISCONNECT was sent (after a `disconnect()` call).
    OutgoingDisconnect,
    Other,
}

/// A request that was lost with the connection and can be replayed.
pub(crate) enum Lost<R> {
    /// A publish; `pkid` is 0 when it had not been sent yet (still in the request channel).
    Publish { request: R, pkid: u16 },
    /// A subscribe that was not sent or not acknowledged.
    Subscribe,
    /// Anything else (acks, pings): dropped.
    Other,
}

/// Why `poll` failed.
pub(crate) struct PollError {
    /// The broker refused the CONNECT (bad credentials, bad client id): retrying will not help.
    pub refused: bool,
    /// Of `refused`: the credentials were refused (bad user name or password, not authorized).
    pub unauthorized: bool,
    /// The TLS handshake failed (certificate, name, or a peer that does not speak TLS).
    pub tls: bool,
    /// The peer closed an established connection (end of file, reset): before a CONNACK, a
    /// sign of a TLS port reached without TLS.
    pub closed: bool,
    /// All clients are gone.
    pub requests_done: bool,
    /// The broker closed the connection because another client connected with the same
    /// client id (MQTT 5 DISCONNECT reason 0x8E; MQTT 3.1.1 cannot tell).
    pub taken_over: bool,
    pub source: Source,
}

/// Connections closed by the broker before a first CONNACK after which the connect fails with
/// [`crate::MeshErrorKind::Handshake`] (a TLS port reached without TLS closes every attempt).
pub(crate) const CLOSED_BEFORE_CONNACK_LIMIT: u32 = 3;

/// Tells, before the first CONNACK, which connect failures retrying cannot fix.
#[derive(Debug, Default)]
pub(crate) struct FirstConnect {
    closed_in_a_row: u32,
}

impl FirstConnect {
    /// The error to give up with, or `None` to retry: refused credentials, a refused CONNECT,
    /// a failed TLS handshake, or [`CLOSED_BEFORE_CONNACK_LIMIT`] connections in a row closed
    /// before CONNACK. `e.source` is moved into the error when giving up.
    pub(crate) fn fatal(&mut self, e: &mut PollError, url: &str) -> Option<crate::MeshError> {
        use crate::{MeshError, MeshErrorKind};
        let kind = if e.unauthorized {
            MeshErrorKind::Unauthorized {
                url: url.to_owned(),
            }
        } else if e.refused {
            MeshErrorKind::Connect {
                url: url.to_owned(),
            }
        } else if e.tls {
            MeshErrorKind::Tls {
                url: url.to_owned(),
            }
        } else if e.closed {
            self.closed_in_a_row += 1;
            if self.closed_in_a_row < CLOSED_BEFORE_CONNACK_LIMIT {
                return None;
            }
            MeshErrorKind::Handshake {
                url: url.to_owned(),
                attempts: self.closed_in_a_row,
            }
        } else {
            self.closed_in_a_row = 0;
            return None;
        };
        let source = std::mem::replace(&mut e.source, "(moved into the connect error)".into());
        Some(MeshError::with_source(kind, source))
    }
}

/// What [`Wire::take_lost`] returns: leftover events and lost requests.
pub(crate) type Leftovers<P, R> = (Vec<WireEvent<P>>, Vec<Lost<R>>);

/// A version of MQTT as rumqttc implements it.
pub(crate) trait Wire: Send + Sync + 'static {
    type Client: Clone + Send + Sync + 'static;
    type EventLoop: Send + 'static;
    type Request: Send + 'static;
    /// An incoming publish as needed to acknowledge it.
    type Incoming: Send + Sync + 'static;

    fn build(options: &WireOptions) -> (Self::Client, Self::EventLoop);
    fn poll(
        el: &mut Self::EventLoop,
    ) -> impl Future<Output = Result<WireEvent<Self::Incoming>, PollError>> + Send;
    /// After a poll error: the events still queued in the state, then the requests rumqttc
    /// moved to its pending queue (which it clears on reconnecting without a session).
    fn take_lost(el: &mut Self::EventLoop) -> Leftovers<Self::Incoming, Self::Request>;
    /// Queues `request` to be sent before anything in the request channel.
    fn push_pending(el: &mut Self::EventLoop, request: Self::Request);
    /// A SUBSCRIBE for `filters`, all at QoS 1.
    fn subscribe_request(filters: &[String]) -> Self::Request;
    /// A PUBACK for `incoming`.
    fn ack_request(incoming: &Self::Incoming) -> Self::Request;
    fn publish(
        client: &Self::Client,
        topic: String,
        payload: Bytes,
        qos1: bool,
    ) -> impl Future<Output = Result<(), Source>> + Send;
    fn subscribe(
        client: &Self::Client,
        filters: Vec<String>,
    ) -> impl Future<Output = Result<(), Source>> + Send;
    fn unsubscribe(
        client: &Self::Client,
        filter: String,
    ) -> impl Future<Output = Result<(), Source>> + Send;
    /// Queues a PUBACK for `incoming` without waiting; `false` when the request channel is
    /// full (or the event loop is gone).
    fn try_ack(client: &Self::Client, incoming: &Self::Incoming) -> bool;
    fn disconnect(client: &Self::Client) -> impl Future<Output = Result<(), Source>> + Send;
}

/// Whether `e` (or an error it wraps) is an established connection closed by the peer: end of
/// file, reset or aborted, rather than a refused or timed-out connect.
fn closed_early(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            )
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// MQTT 3.1.1.
pub(crate) struct V4;
/// MQTT 5.
pub(crate) struct V5;

mod v4 {
    use super::*;
    use rumqttc::{
        AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, Incoming, MqttOptions,
        Outgoing, Packet, Publish, QoS, Request, StateError, Subscribe, SubscribeFilter,
        SubscribeReasonCode,
    };

    fn event(e: Event) -> WireEvent<Publish> {
        match e {
            Event::Incoming(Incoming::ConnAck(c)) => WireEvent::ConnAck {
                session_present: c.session_present,
            },
            Event::Incoming(Packet::Publish(p)) => WireEvent::Publish {
                topic: Bytes::from(p.topic.clone().into_bytes()),
                payload: p.payload.clone(),
                dup: p.dup,
                raw: p,
            },
            Event::Incoming(Packet::PubAck(a)) => WireEvent::PubAck {
                pkid: a.pkid,
                refused: None,
            },
            Event::Incoming(Packet::SubAck(a)) => WireEvent::SubAck {
                pkid: a.pkid,
                failure: a
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure))
                    .then(|| "the broker refused a subscription (SUBACK failure)".to_owned()),
            },
            Event::Outgoing(Outgoing::Publish(pkid)) => WireEvent::OutgoingPublish(pkid),
            Event::Outgoing(Outgoing::Subscribe(pkid)) => WireEvent::OutgoingSubscribe(pkid),
            Event::Outgoing(Outgoing::Disconnect) => WireEvent::OutgoingDisconnect,
            _ => WireEvent::Other,
        }
    }

    impl Wire for V4 {
        type Client = AsyncClient;
        type EventLoop = EventLoop;
        type Request = Request;
        type Incoming = Publish;

        fn build(o: &WireOptions) -> (AsyncClient, EventLoop) {
            let mut opts = MqttOptions::new(o.client_id.clone(), o.host.clone(), o.port);
            opts.set_keep_alive(KEEP_ALIVE)
                .set_clean_session(o.clean)
                .set_manual_acks(o.manual_acks)
                .set_max_packet_size(o.max_packet_bytes, o.max_packet_bytes)
                .set_inflight(o.inflight)
                .set_request_channel_capacity(o.channel_capacity)
                .set_transport(o.transport());
            if let Some((user, password)) = &o.credentials {
                opts.set_credentials(user.clone(), password.expose());
            }
            let (client, mut el) = AsyncClient::new(opts, o.channel_capacity);
            let mut net = el.network_options();
            net.set_tcp_nodelay(true);
            net.set_connection_timeout(5);
            el.set_network_options(net);
            (client, el)
        }

        async fn poll(el: &mut EventLoop) -> Result<WireEvent<Publish>, PollError> {
            el.poll().await.map(event).map_err(|e| PollError {
                refused: matches!(e, ConnectionError::ConnectionRefused(_)),
                unauthorized: matches!(
                    e,
                    ConnectionError::ConnectionRefused(
                        ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
                    )
                ),
                tls: matches!(e, ConnectionError::Tls(_)),
                closed: closed_early(&e)
                    || matches!(e, ConnectionError::MqttState(StateError::ConnectionAborted)),
                requests_done: matches!(e, ConnectionError::RequestsDone),
                taken_over: false,
                source: Box::new(e),
            })
        }

        fn take_lost(el: &mut EventLoop) -> Leftovers<Publish, Request> {
            let events = el.state.events.drain(..).map(event).collect();
            let lost = el
                .pending
                .drain(..)
                .map(|r| match r {
                    Request::Publish(mut p) => {
                        let pkid = p.pkid;
                        p.pkid = 0;
                        p.dup = false;
                        Lost::Publish {
                            request: Request::Publish(p),
                            pkid,
                        }
                    }
                    Request::Subscribe(_) => Lost::Subscribe,
                    _ => Lost::Other,
                })
                .collect();
            (events, lost)
        }

        fn push_pending(el: &mut EventLoop, request: Request) {
            el.pending.push_back(request);
        }

        fn subscribe_request(filters: &[String]) -> Request {
            Request::Subscribe(Subscribe::new_many(
                filters
                    .iter()
                    .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce)),
            ))
        }

        fn ack_request(incoming: &Publish) -> Request {
            Request::PubAck(rumqttc::PubAck::new(incoming.pkid))
        }

        async fn publish(
            client: &AsyncClient,
            topic: String,
            payload: Bytes,
            qos1: bool,
        ) -> Result<(), Source> {
            let qos = if qos1 {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            };
            client
                .publish_bytes(topic, qos, false, payload)
                .await
                .map_err(|e| Box::new(e) as Source)
        }

        async fn subscribe(client: &AsyncClient, filters: Vec<String>) -> Result<(), Source> {
            client
                .subscribe_many(
                    filters
                        .into_iter()
                        .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce)),
                )
                .await
                .map_err(|e| Box::new(e) as Source)
        }

        async fn unsubscribe(client: &AsyncClient, filter: String) -> Result<(), Source> {
            client
                .unsubscribe(filter)
                .await
                .map_err(|e| Box::new(e) as Source)
        }

        fn try_ack(client: &AsyncClient, incoming: &Publish) -> bool {
            client.try_ack(incoming).is_ok()
        }

        async fn disconnect(client: &AsyncClient) -> Result<(), Source> {
            client.disconnect().await.map_err(|e| Box::new(e) as Source)
        }
    }
}

mod v5 {
    use super::*;
    use rumqttc::Outgoing;
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::DisconnectReasonCode;
    use rumqttc::v5::mqttbytes::v5::{
        ConnectReturnCode, Filter, Packet, PubAckReason, Publish, Subscribe, SubscribeReasonCode,
    };
    use rumqttc::v5::{
        AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Request, StateError,
    };

    fn event(e: Event) -> WireEvent<Publish> {
        match e {
            Event::Incoming(Packet::ConnAck(c)) => WireEvent::ConnAck {
                session_present: c.session_present,
            },
            Event::Incoming(Packet::Publish(p)) => WireEvent::Publish {
                topic: p.topic.clone(),
                payload: p.payload.clone(),
                dup: p.dup,
                raw: p,
            },
            Event::Incoming(Packet::PubAck(a)) => WireEvent::PubAck {
                pkid: a.pkid,
                refused: puback_code(&a.reason),
            },
            Event::Incoming(Packet::SubAck(a)) => WireEvent::SubAck {
                pkid: a.pkid,
                failure: a
                    .return_codes
                    .iter()
                    .find(|c| !matches!(c, SubscribeReasonCode::Success(_)))
                    .map(|c| format!("the broker refused a subscription: {c:?}")),
            },
            Event::Outgoing(Outgoing::Publish(pkid)) => WireEvent::OutgoingPublish(pkid),
            Event::Outgoing(Outgoing::Subscribe(pkid)) => WireEvent::OutgoingSubscribe(pkid),
            Event::Outgoing(Outgoing::Disconnect) => WireEvent::OutgoingDisconnect,
            _ => WireEvent::Other,
        }
    }

    /// The reason code of a refusing PUBACK (MQTT 5 §3.4.2.1); `None` for the success codes.
    fn puback_code(reason: &PubAckReason) -> Option<u8> {
        match reason {
            PubAckReason::Success | PubAckReason::NoMatchingSubscribers => None,
            PubAckReason::UnspecifiedError => Some(0x80),
            PubAckReason::ImplementationSpecificError => Some(0x83),
            PubAckReason::NotAuthorized => Some(0x87),
            PubAckReason::TopicNameInvalid => Some(0x90),
            PubAckReason::PacketIdentifierInUse => Some(0x91),
            PubAckReason::QuotaExceeded => Some(0x97),
            PubAckReason::PayloadFormatInvalid => Some(0x99),
        }
    }

    impl Wire for V5 {
        type Client = AsyncClient;
        type EventLoop = EventLoop;
        type Request = Request;
        type Incoming = Publish;

        fn build(o: &WireOptions) -> (AsyncClient, EventLoop) {
            let mut opts = MqttOptions::new(o.client_id.clone(), o.host.clone(), o.port);
            let max_packet = u32::try_from(o.max_packet_bytes).unwrap_or(u32::MAX);
            opts.set_keep_alive(KEEP_ALIVE)
                .set_clean_start(o.clean)
                .set_manual_acks(o.manual_acks)
                .set_max_packet_size(Some(max_packet))
                .set_receive_maximum(Some(o.inflight))
                .set_outgoing_inflight_upper_limit(o.inflight)
                .set_request_channel_capacity(o.channel_capacity)
                .set_transport(o.transport());
            if let Some((user, password)) = &o.credentials {
                opts.set_credentials(user.clone(), password.expose());
            }
            if !o.clean {
                opts.set_session_expiry_interval(Some(SESSION_EXPIRY_SECS));
            }
            let mut net = rumqttc::NetworkOptions::new();
            net.set_tcp_nodelay(true);
            net.set_connection_timeout(5);
            opts.set_network_options(net);
            AsyncClient::new(opts, o.channel_capacity)
        }

        async fn poll(el: &mut EventLoop) -> Result<WireEvent<Publish>, PollError> {
            el.poll().await.map(event).map_err(|e| PollError {
                refused: matches!(e, ConnectionError::ConnectionRefused(_)),
                unauthorized: matches!(
                    e,
                    ConnectionError::ConnectionRefused(
                        ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
                    )
                ),
                tls: matches!(e, ConnectionError::Tls(_)),
                closed: closed_early(&e)
                    || matches!(e, ConnectionError::MqttState(StateError::ConnectionAborted)),
                requests_done: matches!(e, ConnectionError::RequestsDone),
                taken_over: matches!(
                    &e,
                    ConnectionError::MqttState(StateError::ServerDisconnect {
                        reason_code: DisconnectReasonCode::SessionTakenOver,
                        ..
                    })
                ),
                source: Box::new(e),
            })
        }

        fn take_lost(el: &mut EventLoop) -> Leftovers<Publish, Request> {
            let events = el.state.events.drain(..).map(event).collect();
            let lost = el
                .pending
                .drain(..)
                .map(|r| match r {
                    Request::Publish(mut p) => {
                        let pkid = p.pkid;
                        p.pkid = 0;
                        p.dup = false;
                        Lost::Publish {
                            request: Request::Publish(p),
                            pkid,
                        }
                    }
                    Request::Subscribe(_) => Lost::Subscribe,
                    _ => Lost::Other,
                })
                .collect();
            (events, lost)
        }

        fn push_pending(el: &mut EventLoop, request: Request) {
            el.pending.push_back(request);
        }

        fn subscribe_request(filters: &[String]) -> Request {
            Request::Subscribe(Subscribe::new_many(
                filters
                    .iter()
                    .map(|f| Filter::new(f.clone(), QoS::AtLeastOnce)),
                None,
            ))
        }

        fn ack_request(incoming: &Publish) -> Request {
            Request::PubAck(rumqttc::v5::mqttbytes::v5::PubAck::new(incoming.pkid, None))
        }

        async fn publish(
            client: &AsyncClient,
            topic: String,
            payload: Bytes,
            qos1: bool,
        ) -> Result<(), Source> {
            let qos = if qos1 {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            };
            client
                .publish_bytes(topic, qos, false, payload)
                .await
                .map_err(|e| Box::new(e) as Source)
        }

        async fn subscribe(client: &AsyncClient, filters: Vec<String>) -> Result<(), Source> {
            client
                .subscribe_many(
                    filters
                        .into_iter()
                        .map(|f| Filter::new(f, QoS::AtLeastOnce)),
                )
                .await
                .map_err(|e| Box::new(e) as Source)
        }

        async fn unsubscribe(client: &AsyncClient, filter: String) -> Result<(), Source> {
            client
                .unsubscribe(filter)
                .await
                .map_err(|e| Box::new(e) as Source)
        }

        fn try_ack(client: &AsyncClient, incoming: &Publish) -> bool {
            client.try_ack(incoming).is_ok()
        }

        async fn disconnect(client: &AsyncClient) -> Result<(), Source> {
            client.disconnect().await.map_err(|e| Box::new(e) as Source)
        }
    }
}
