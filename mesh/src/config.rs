//! Mesh configuration and broker URLs.

use std::net::SocketAddr;

use super::error::{MeshError, MeshErrorKind};
use super::secret::{Secret, plain_from_env, redact_url, secret_from_env};
use super::tls::TlsFiles;

/// The environment variable [`MeshConfig::from_env`] reads the broker URL from.
pub const MESH_URL_ENV: &str = "DDISCORD_MESH_URL";
/// The URL used when [`MESH_URL_ENV`] is unset: an embedded broker on loopback.
pub const DEFAULT_MESH_URL: &str = ddiscord_model::defaults::MESH_URL;
/// Default [`MeshConfig::subscription_capacity`]: messages.
pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 65_536;
/// Default [`MeshConfig::durable_capacity`]: messages.
pub const DEFAULT_DURABLE_CAPACITY: usize = 1024;
/// Default [`MeshConfig::max_payload_bytes`]: 32 MiB, Mosquitto's `max_packet_size` in the
/// shipped `k8s/overlays/self-contained/mosquitto/mosquitto.conf` (a large guild's
/// GUILD_CREATE is several MB).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 32 * 1024 * 1024;

/// Default [`MeshConfig::max_inflight`]: 500 unacknowledged guaranteed publishes per
/// connection, below the receive maximum of common brokers (Mosquitto's is 65,535 with the
/// shipped config, which sets no `max_inflight_messages`).
pub const DEFAULT_MAX_INFLIGHT: u16 = 500;

/// The environment variable [`MeshConfig::with_security_from_env`] reads the broker user name
/// from (it replaces a user name in the URL).
pub const MESH_USERNAME_ENV: &str = "DDISCORD_MESH_USERNAME";
/// The environment variable [`MeshConfig::with_security_from_env`] reads the broker password
/// from; `DDISCORD_MESH_PASSWORD_FILE` names a file holding it instead (a mounted secret).
pub const MESH_PASSWORD_ENV: &str = "DDISCORD_MESH_PASSWORD";
/// The prefix of the TLS file variables: `DDISCORD_MESH_CA_FILE`,
/// `DDISCORD_MESH_CLIENT_CERT_FILE`, `DDISCORD_MESH_CLIENT_KEY_FILE` (see [`TlsFiles`]).
pub const MESH_TLS_ENV_PREFIX: &str = "DDISCORD_MESH";

/// How to reach the mesh. `Debug` prints the URL with its password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct MeshConfig {
    /// Broker URL, optionally with credentials (`scheme://user:password@host:port`, percent-
    /// encoded as in any URL):
    /// - `mqtt://host:port`: MQTT 3.1.1 (default port 1883);
    /// - `mqtts://host:port` (or `ssl://`, as Solace and Paho print it): MQTT 3.1.1 over TLS
    ///   (default port 8883);
    /// - `mqtt5://host:port`: MQTT 5;
    /// - `mqtt5s://host:port`: MQTT 5 over TLS (default port 8883);
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
    /// a metric and a log line).
    pub subscription_capacity: usize,
    /// Messages buffered per [`crate::DurableSubscription`] (which never drops) before its
    /// connection stops reading: the broker keeps the rest, so a consumer slower than the
    /// publishers holds at most this many messages in memory (plus what one socket read
    /// brings).
    pub durable_capacity: usize,
    /// Largest payload in bytes accepted by [`crate::Mesh::publish`] (and received).
    pub max_payload_bytes: usize,
    /// Guaranteed publishes of the main connection that may be unacknowledged at once (at
    /// least 1; MQTT only). Beyond it [`crate::Mesh::publish_queued`] waits for an
    /// acknowledgement (backpressure), still in call order.
    pub max_inflight: u16,
    /// MQTT user name; replaces the URL's.
    pub username: Option<String>,
    /// MQTT password; replaces the URL's. Never logged.
    pub password: Option<Secret>,
    /// CA and client certificate files for `mqtts://` and `mqtt5s://`.
    pub tls: TlsFiles,
}

impl std::fmt::Debug for MeshConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshConfig")
            .field("url", &redact_url(&self.url))
            .field("client_id", &self.client_id)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("durable_capacity", &self.durable_capacity)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("max_inflight", &self.max_inflight)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("tls", &self.tls)
            .finish()
    }
}

impl MeshConfig {
    /// A configuration for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_id: None,
            subscription_capacity: DEFAULT_SUBSCRIPTION_CAPACITY,
            durable_capacity: DEFAULT_DURABLE_CAPACITY,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_inflight: DEFAULT_MAX_INFLIGHT,
            username: None,
            password: None,
            tls: TlsFiles::default(),
        }
    }

    /// Adds what the environment says about credentials and TLS, as every DDiscord process
    /// does: `DDISCORD_MESH_USERNAME`, `DDISCORD_MESH_PASSWORD` (or `DDISCORD_MESH_PASSWORD_FILE`),
    /// `DDISCORD_MESH_CA_FILE`, `DDISCORD_MESH_CLIENT_CERT_FILE`, `DDISCORD_MESH_CLIENT_KEY_FILE`.
    /// Unset variables leave the configuration as it is.
    ///
    /// # Errors
    /// [`MeshErrorKind::Credentials`] when `DDISCORD_MESH_PASSWORD_FILE` cannot be read.
    pub fn with_security_from_env(mut self) -> Result<Self, MeshError> {
        if let Some(user) = plain_from_env(MESH_USERNAME_ENV) {
            self.username = Some(user);
        }
        match secret_from_env(MESH_PASSWORD_ENV) {
            Ok(Some(password)) => self.password = Some(password),
            Ok(None) => {}
            Err(e) => {
                return Err(MeshError::with_source(
                    MeshErrorKind::Credentials {
                        reason: format!("reading {MESH_PASSWORD_ENV}_FILE failed"),
                    },
                    e,
                ));
            }
        }
        let files = TlsFiles::from_env(MESH_TLS_ENV_PREFIX);
        if !files.is_empty() {
            self.tls = files;
        }
        Ok(self)
    }

    /// Sets the user name and password (replacing the URL's).
    #[must_use]
    pub fn with_credentials(mut self, username: impl Into<String>, password: Secret) -> Self {
        self.username = Some(username.into());
        self.password = Some(password);
        self
    }

    /// Sets the TLS files.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsFiles) -> Self {
        self.tls = tls;
        self
    }

    /// The URL with its password replaced by `***`, for logs and messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
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

    /// Sets [`MeshConfig::durable_capacity`] (at least 1).
    #[must_use]
    pub fn with_durable_capacity(mut self, capacity: usize) -> Self {
        self.durable_capacity = capacity.max(1);
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

    /// The parsed URL, with [`MeshConfig::username`] and [`MeshConfig::password`] in place of
    /// the URL's own.
    pub(crate) fn endpoint(&self) -> Result<Endpoint, MeshError> {
        let mut endpoint = Endpoint::parse(&self.url)?;
        if let Endpoint::Mqtt {
            username, password, ..
        } = &mut endpoint
        {
            if let Some(user) = &self.username {
                *username = Some(user.clone());
            }
            if let Some(secret) = &self.password {
                *password = Some(secret.clone());
            }
            if password.is_some() && username.is_none() {
                return Err(MeshError::new(MeshErrorKind::Credentials {
                    reason: format!(
                        "a password is set but no user name: MQTT sends a password only with a user name; set {MESH_USERNAME_ENV} or put `user:password@` in the URL"
                    ),
                }));
            }
        }
        Ok(endpoint)
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
        /// `mqtts://`, `mqtt5s://`, `ssl://`.
        tls: bool,
        host: String,
        port: u16,
        username: Option<String>,
        password: Option<Secret>,
    },
    Embedded {
        addr: SocketAddr,
    },
    Solace {
        host: String,
        port: u16,
    },
}

/// The `user:password@` part of a URL, percent-decoded.
type UserInfo = (Option<String>, Option<Secret>);

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Self, MeshError> {
        let bad = |reason: &str| {
            MeshError::new(MeshErrorKind::InvalidUrl {
                url: redact_url(url),
                reason: reason.to_owned(),
            })
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            bad("no scheme (`mqtt://`, `mqtts://`, `mqtt5://`, `mqtt5s://`, `embedded://`, `solace://`)")
        })?;
        let rest = rest.trim_end_matches('/');
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, rest),
        };
        if rest.contains('/') || rest.contains('?') {
            return Err(bad(
                "only [user:password@]host:port is supported (no path or query)",
            ));
        }
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => split_userinfo(info).map_err(|r| bad(&r))?,
        };
        let (version, tls) = match scheme {
            "mqtt" | "tcp" => (MqttVersion::V311, false),
            "mqtts" | "ssl" => (MqttVersion::V311, true),
            "mqtt5" => (MqttVersion::V5, false),
            "mqtt5s" => (MqttVersion::V5, true),
            "embedded" | "solace" => (MqttVersion::V311, false),
            other => return Err(bad(&format!("unknown scheme `{other}`"))),
        };
        let default_port = match scheme {
            "solace" => 55555,
            _ if tls => 8883,
            _ => 1883,
        };
        let (host, port) = split_host_port(rest, default_port).map_err(|r| bad(&r))?;
        match scheme {
            "embedded" | "solace" if userinfo.is_some() => Err(bad(&format!(
                "`{scheme}://` takes no credentials in the URL"
            ))),
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
            _ => Ok(Self::Mqtt {
                version,
                tls,
                host,
                port,
                username,
                password,
            }),
        }
    }
}

fn split_userinfo(info: &str) -> Result<UserInfo, String> {
    let (user, password) = match info.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (info, None),
    };
    let user = percent_decode(user)?;
    let password = password.map(percent_decode).transpose()?;
    Ok((
        Some(user).filter(|u| !u.is_empty()),
        password.map(Secret::new),
    ))
}

/// Decodes `%XX` escapes (RFC 3986 §2.1), so a password may hold `@`, `:` or `/`.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    "a `%` in the credentials is not followed by two hex digits".to_owned()
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the credentials are not UTF-8 once decoded".to_owned())
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

    fn mqtt(version: MqttVersion, tls: bool, host: &str, port: u16) -> Endpoint {
        Endpoint::Mqtt {
            version,
            tls,
            host: host.into(),
            port,
            username: None,
            password: None,
        }
    }

    #[test]
    fn urls_parse() {
        assert_eq!(
            Endpoint::parse("mqtt://localhost:1884").unwrap(),
            mqtt(MqttVersion::V311, false, "localhost", 1884)
        );
        assert_eq!(
            Endpoint::parse("mqtt5://10.0.0.1").unwrap(),
            mqtt(MqttVersion::V5, false, "10.0.0.1", 1883)
        );
        assert_eq!(
            Endpoint::parse("mqtts://broker").unwrap(),
            mqtt(MqttVersion::V311, true, "broker", 8883)
        );
        assert_eq!(
            Endpoint::parse("ssl://broker:8443").unwrap(),
            mqtt(MqttVersion::V311, true, "broker", 8443)
        );
        assert_eq!(
            Endpoint::parse("mqtt5s://broker").unwrap(),
            mqtt(MqttVersion::V5, true, "broker", 8883)
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
            "embedded://localhost:1",
            "embedded://u:p@127.0.0.1:1",
            "mqtt://h:1/path",
            "mqtt://u:p%zz@h:1",
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert!(
                matches!(e.kind(), MeshErrorKind::InvalidUrl { .. }),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn credentials_come_from_the_url_or_the_config() {
        let Endpoint::Mqtt {
            username, password, ..
        } = Endpoint::parse("mqtts://solace-cloud-client:p%40ss:w@broker:8883").unwrap()
        else {
            panic!("not MQTT")
        };
        assert_eq!(username.as_deref(), Some("solace-cloud-client"));
        assert_eq!(password.unwrap().expose(), "p@ss:w");
        let config = MeshConfig::new("mqtts://a:b@broker").with_credentials("c", Secret::new("d"));
        let Endpoint::Mqtt {
            username, password, ..
        } = config.endpoint().unwrap()
        else {
            panic!("not MQTT")
        };
        assert_eq!(
            (username.as_deref(), password.unwrap().expose()),
            (Some("c"), "d")
        );
        let e = MeshConfig::new("mqtt://:secret@h").endpoint().unwrap_err();
        assert!(matches!(e.kind(), MeshErrorKind::Credentials { .. }), "{e}");
    }

    #[test]
    fn passwords_never_show() {
        let config = MeshConfig::new("mqtts://bot:hunter2@broker")
            .with_credentials("bot", Secret::new("hunter3"));
        let printed = format!("{config:?} {}", config.redacted_url());
        assert!(
            !printed.contains("hunter2") && !printed.contains("hunter3"),
            "{printed}"
        );
        let e = Endpoint::parse("mqttx://bot:hunter2@broker").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
