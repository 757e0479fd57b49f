//! Mesh configuration and broker URLs.

use std::net::SocketAddr;

use super::error::{MeshError, MeshErrorKind};

/// The environment variable [`MeshConfig::from_env`] reads the broker URL from.
pub const MESH_URL_ENV: &str = "DDISCORD_MESH_URL";
/// The URL used when [`MESH_URL_ENV`] is unset: an embedded broker on loopback.
pub const DEFAULT_MESH_URL: &str = ddiscord_model::defaults::MESH_URL;
/// Default [`MeshConfig::subscription_capacity`]: messages.
pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 65_536;
/// Default [`MeshConfig::max_payload_bytes`]: 32 MiB, Mosquitto's `max_packet_size` in the
/// shipped `k8s/overlays/self-contained/mosquitto/mosquitto.conf` (a large guild's
/// GUILD_CREATE is several MB).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 32 * 1024 * 1024;

/// Default [`MeshConfig::max_inflight`]: 500 unacknowledged guaranteed publishes per
/// connection, below Mosquitto's `max_inflight_messages` (1000 in the shipped config), which
/// MQTT 5 clients see as the receive maximum.
pub const DEFAULT_MAX_INFLIGHT: u16 = 500;

/// How to reach the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshConfig {
    /// Broker URL:
    /// - `mqtt://host:port`: MQTT 3.1.1 (default port 1883);
    /// - `mqtt5://host:port`: MQTT 5;
    /// - `embedded://127.0.0.1:port`: start an in-process broker listening there (port 0 picks
    ///   a free port), or attach to the one already listening there;
    /// - `solace://host:port`: Solace PubSub+ native SMF (cargo feature `solace`, default port
    ///   55555).
    pub url: String,
    /// MQTT client id of the main connection; a random `ddiscord-<hex>` when `None`.
    /// Two live connections with the same id make the broker drop the older one.
    pub client_id: Option<String>,
    /// Messages buffered per [`crate::Subscription`] before it counts as a slow consumer
    /// and further messages for it are dropped (with a [`crate::MeshEvent::SlowConsumer`],
    /// a metric and a log line). Also the buffer of a durable subscription, which never drops.
    pub subscription_capacity: usize,
    /// Largest payload in bytes accepted by [`crate::Mesh::publish`] (and received).
    pub max_payload_bytes: usize,
    /// Guaranteed publishes of the main connection that may be unacknowledged at once (at
    /// least 1; MQTT only). Beyond it [`crate::Mesh::publish_queued`] waits for an
    /// acknowledgement (backpressure), still in call order.
    pub max_inflight: u16,
}

impl MeshConfig {
    /// A configuration for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_id: None,
            subscription_capacity: DEFAULT_SUBSCRIPTION_CAPACITY,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_inflight: DEFAULT_MAX_INFLIGHT,
        }
    }

    /// The configuration from `DDISCORD_MESH_URL` (default [`DEFAULT_MESH_URL`], a broker on
    /// this machine).
    pub fn from_env() -> Self {
        let url = std::env::var(MESH_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_MESH_URL.to_owned());
        Self::new(url)
    }

    /// Sets the client id.
    #[must_use]
    pub fn with_client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// Sets the per-subscription buffer, in messages (at least 1).
    #[must_use]
    pub fn with_subscription_capacity(mut self, capacity: usize) -> Self {
        self.subscription_capacity = capacity.max(1);
        self
    }

    /// Sets the payload limit in bytes.
    #[must_use]
    pub fn with_max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// Sets the in-flight limit of guaranteed publishes (at least 1).
    #[must_use]
    pub fn with_max_inflight(mut self, publishes: u16) -> Self {
        self.max_inflight = publishes.max(1);
        self
    }

    pub(crate) fn endpoint(&self) -> Result<Endpoint, MeshError> {
        Endpoint::parse(&self.url)
    }
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self::new(DEFAULT_MESH_URL)
    }
}

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttVersion {
    /// MQTT 3.1.1.
    V311,
    /// MQTT 5.
    V5,
}

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Mqtt {
        version: MqttVersion,
        host: String,
        port: u16,
    },
    Embedded {
        addr: SocketAddr,
    },
    Solace {
        host: String,
        port: u16,
    },
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Self, MeshError> {
        let bad = |reason: &str| {
            MeshError::new(MeshErrorKind::InvalidUrl {
                url: url.to_owned(),
                reason: reason.to_owned(),
            })
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme (`mqtt://`, `mqtt5://`, `embedded://`, `solace://`)"))?;
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('@') || rest.contains('?') {
            return Err(bad(
                "only host:port is supported (no path, credentials or query)",
            ));
        }
        let default_port = match scheme {
            "solace" => 55555,
            _ => 1883,
        };
        let (host, port) = split_host_port(rest, default_port).map_err(|r| bad(&r))?;
        match scheme {
            "mqtt" | "tcp" => Ok(Self::Mqtt {
                version: MqttVersion::V311,
                host,
                port,
            }),
            "mqtt5" => Ok(Self::Mqtt {
                version: MqttVersion::V5,
                host,
                port,
            }),
            "embedded" => {
                let ip = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| bad("the embedded broker needs an IP address, e.g. 127.0.0.1"))?;
                Ok(Self::Embedded {
                    addr: SocketAddr::new(ip, port),
                })
            }
            "solace" => Ok(Self::Solace { host, port }),
            other => Err(bad(&format!("unknown scheme `{other}`"))),
        }
    }
}

fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    if s.is_empty() {
        return Err("no host".to_owned());
    }
    // [v6]:port, host:port, host
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in an IPv6 address".to_owned())?;
        let port = after.strip_prefix(':');
        (format!("[{h}]"), port)
    } else if let Some((h, p)) = s.rsplit_once(':') {
        (h.to_owned(), Some(p))
    } else {
        (s.to_owned(), None)
    };
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("port `{p}` is not a number from 0 to 65535"))?,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(
            Endpoint::parse("mqtt://localhost:1884").unwrap(),
            Endpoint::Mqtt {
                version: MqttVersion::V311,
                host: "localhost".into(),
                port: 1884
            }
        );
        assert_eq!(
            Endpoint::parse("mqtt5://10.0.0.1").unwrap(),
            Endpoint::Mqtt {
                version: MqttVersion::V5,
                host: "10.0.0.1".into(),
                port: 1883
            }
        );
        assert_eq!(
            Endpoint::parse("embedded://127.0.0.1:0").unwrap(),
            Endpoint::Embedded {
                addr: "127.0.0.1:0".parse().unwrap()
            }
        );
        assert_eq!(
            Endpoint::parse("solace://broker").unwrap(),
            Endpoint::Solace {
                host: "broker".into(),
                port: 55555
            }
        );
        for bad in [
            "localhost:1883",
            "http://x:1",
            "mqtt://",
            "mqtt://h:99999",
            "mqtt://u:p@h:1",
            "embedded://localhost:1",
            "mqtt://h:1/path",
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert!(
                matches!(e.kind(), MeshErrorKind::InvalidUrl { .. }),
                "{bad}: {e}"
            );
        }
    }
}
