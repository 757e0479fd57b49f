//! The embedded broker: rumqttd 0.20 in-process, for `ddiscord up` on one machine with no
//! broker installed.
//!
//! It listens on a TCP address (loopback by default) so that scripts in other processes
//! connect to it with any MQTT 3.1.1 client or SDK (`mqtt://127.0.0.1:<port>`). The
//! configuration is built in code (no file).
//!
//! What rumqttd 0.20 does and does not do, as the conformance suite
//! (`tests/mesh_conformance.rs`) finds it; see also `docs/mesh.md`:
//! - MQTT 3.1.1 only on this listener (rumqttd can serve MQTT 5 on a separate listener; not
//!   enabled here).
//! - QoS 0 and QoS 1 publish/subscribe, wildcards, per-publisher order: yes.
//! - Persistent sessions (`clean_session = false`): see `docs/mesh.md` for what the suite
//!   measured; messages live in memory only, nothing survives the process.
//! - It cannot be stopped or restarted inside the process (rumqttd has no shutdown), so the
//!   broker-restart test is skipped for it; it stops with the process.
//! - No authentication, no TLS, no `$SYS` drop counter.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::error::{MeshError, MeshErrorKind};

/// Largest MQTT packet the embedded broker accepts, bytes (payload limit plus headers).
pub const EMBEDDED_MAX_PACKET_BYTES: usize = 32 * 1024 * 1024;
/// QoS 1 messages the embedded broker keeps in flight per connection.
pub const EMBEDDED_MAX_INFLIGHT: usize = 1000;

/// A running (or attached) embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    attached: bool,
}

impl EmbeddedBroker {
    /// Starts rumqttd listening on `addr` (port 0 picks a free port), or attaches to the
    /// broker already listening there (another `EmbeddedBroker` of this process, or another
    /// process). Returns once the listener accepts connections.
    ///
    /// The broker runs on its own threads until the process exits.
    ///
    /// # Errors
    /// [`MeshErrorKind::Embedded`] when the address cannot be bound or the broker does not
    /// accept connections within 5 s.
    pub fn start(addr: SocketAddr) -> Result<Self, MeshError> {
        let err = |source: Option<std::io::Error>| {
            let kind = MeshErrorKind::Embedded {
                addr: addr.to_string(),
            };
            match source {
                Some(s) => MeshError::with_source(kind, s),
                None => MeshError::new(kind),
            }
        };
        if addr.port() != 0 && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        {
            tracing::info!(%addr, "attaching to the broker already listening");
            return Ok(Self {
                addr,
                attached: true,
            });
        }
        // Bind first: a clear error when the address is taken, and the port when 0 was asked.
        let listen = {
            let probe = TcpListener::bind(addr).map_err(|e| err(Some(e)))?;
            probe.local_addr().map_err(|e| err(Some(e)))?
        };
        let config = config(listen);
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new()
            .name("ddiscord-embedded-broker".to_owned())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(
                        error = &e as &dyn std::error::Error,
                        "embedded broker stopped"
                    );
                }
            })
            .map_err(|e| err(Some(e)))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok() {
                tracing::info!(addr = %listen, "embedded broker listening (MQTT 3.1.1)");
                return Ok(Self {
                    addr: listen,
                    attached: false,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(err(None))
    }

    /// The address it listens on (the bound port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://<ip>:<port>`: what scripts in other processes connect to.
    pub fn mqtt_url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// Whether this attached to a broker that was already listening instead of starting one.
    pub fn attached(&self) -> bool {
        self.attached
    }
}

fn config(listen: SocketAddr) -> rumqttd::Config {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: EMBEDDED_MAX_PACKET_BYTES,
        max_inflight_count: EMBEDDED_MAX_INFLIGHT,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "ddiscord-v4".to_owned(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 10_000,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    }
}
