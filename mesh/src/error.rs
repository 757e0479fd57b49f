//! The mesh's error: a kind to match on plus the underlying cause.

use std::error::Error as StdError;
use std::fmt;

/// A boxed underlying cause.
pub type Source = Box<dyn StdError + Send + Sync>;

/// Why a mesh operation failed.
///
/// Match on [`MeshError::kind`]; the `Display` text says what to do about it, and
/// [`std::error::Error::source`] carries the backend's own error when there is one.
#[derive(Debug)]
pub struct MeshError {
    kind: MeshErrorKind,
    source: Option<Source>,
}

/// What went wrong, for callers that react differently to each case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeshErrorKind {
    /// The broker could not be reached or refused the connection (it is retried with backoff;
    /// this is returned only when retrying is pointless, e.g. a refused CONNECT).
    Connect {
        /// The broker address.
        url: String,
    },
    /// The broker refused the user name or password (MQTT CONNACK "bad user name or password"
    /// or "not authorized"); retrying with the same credentials cannot help.
    Unauthorized {
        /// The broker address, password redacted.
        url: String,
    },
    /// The TLS handshake failed before the first CONNACK: an untrusted or expired certificate,
    /// a host name the certificate does not name, or a port that does not speak TLS. The
    /// source is rustls' own error.
    Tls {
        /// The broker address, password redacted.
        url: String,
    },
    /// The broker accepted TCP connections and closed them before answering CONNECT, several
    /// times in a row: usually a plain `mqtt://` URL pointed at a TLS port, or a broker that
    /// refuses the client (connection limits, client id rules).
    Handshake {
        /// The broker address, password redacted.
        url: String,
        /// Connections closed in a row before CONNACK.
        attempts: u32,
    },
    /// The credentials or TLS files could not be read or used (a missing password file, a
    /// password without a user name, an unreadable CA file).
    Credentials {
        /// What is wrong.
        reason: String,
    },
    /// The payload is larger than [`crate::MeshConfig::max_payload_bytes`].
    PayloadTooLarge {
        /// Payload size in bytes.
        bytes: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The broker refused a guaranteed publish in its acknowledgement (an MQTT 5 PUBACK
    /// reason code of 0x80 or above, MQTT 5 §3.4.2.1,
    /// <https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html#_Toc3901124>).
    ///
    /// `permanent` refusals (0x87 not authorized, 0x90 topic name invalid, 0x95 packet too
    /// large, 0x99 payload format invalid) fail again on every retry: give up on the message
    /// (dead-letter it). Transient ones (0x97 quota exceeded, 0x80 unspecified error and any
    /// other code) may succeed later: retry with backoff. MQTT 3.1.1 has no reason codes; its
    /// brokers refuse by closing the connection instead.
    Refused {
        /// A stable snake_case name of the reason (`not_authorized`, `topic_name_invalid`,
        /// `packet_too_large`, `payload_format_invalid`, `quota_exceeded`,
        /// `unspecified_error`, ...), fit for a metric label.
        reason: String,
        /// The MQTT 5 reason code.
        code: u8,
        /// Whether retrying is pointless.
        permanent: bool,
    },
    /// The mesh was closed with [`crate::Mesh::close`] (or its connection task ended).
    Closed,
    /// `DDISCORD_MESH_URL` / [`crate::MeshConfig::url`] is not a supported URL.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A durable name that cannot be a client id.
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A durable subscription was asked for with no pattern.
    NoPatterns,
    /// The embedded broker could not start (port taken, bad address).
    Embedded {
        /// The address it should listen on.
        addr: String,
    },
    /// The backend refused the operation or failed (a SUBACK failure, a Solace error).
    Backend {
        /// What was being done.
        what: String,
    },
    /// The backend is not compiled in (e.g. `solace://` without the `solace` feature).
    Unsupported {
        /// What is missing.
        what: String,
    },
}

impl MeshError {
    /// A new error of `kind` without a source.
    pub fn new(kind: MeshErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// A new error of `kind` caused by `source`.
    pub fn with_source(kind: MeshErrorKind, source: impl Into<Source>) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &MeshErrorKind {
        &self.kind
    }

    /// Splits the error into its kind and source.
    pub fn into_parts(self) -> (MeshErrorKind, Option<Source>) {
        (self.kind, self.source)
    }

    /// Whether publishing the same message again cannot succeed: a permanent
    /// [`MeshErrorKind::Refused`] or [`MeshErrorKind::PayloadTooLarge`]. Callers should give
    /// up on the message (dead-letter it) instead of retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.kind,
            MeshErrorKind::Refused {
                permanent: true,
                ..
            } | MeshErrorKind::PayloadTooLarge { .. }
        )
    }

    /// A stable snake_case name of why a publish was refused, for metric labels and dead
    /// letters: the reason of a [`MeshErrorKind::Refused`], `payload_too_large` for
    /// [`MeshErrorKind::PayloadTooLarge`], `None` for every other kind.
    pub fn refusal_reason(&self) -> Option<&str> {
        match &self.kind {
            MeshErrorKind::Refused { reason, .. } => Some(reason),
            MeshErrorKind::PayloadTooLarge { .. } => Some("payload_too_large"),
            _ => None,
        }
    }

    /// The refusal carried by MQTT 5 PUBACK reason code `code` (§3.4.2.1 of the MQTT 5
    /// specification); `None` for the success codes 0x00 and 0x10 (no matching subscribers).
    pub fn from_puback_code(code: u8) -> Option<Self> {
        let (reason, permanent) = match code {
            0x00 | 0x10 => return None,
            0x80 => ("unspecified_error", false),
            0x83 => ("implementation_specific_error", false),
            0x87 => ("not_authorized", true),
            0x90 => ("topic_name_invalid", true),
            0x91 => ("packet_identifier_in_use", false),
            0x95 => ("packet_too_large", true),
            0x97 => ("quota_exceeded", false),
            0x99 => ("payload_format_invalid", true),
            _ => ("unknown_reason_code", false),
        };
        Some(Self::new(MeshErrorKind::Refused {
            reason: reason.to_owned(),
            code,
            permanent,
        }))
    }

    pub(crate) fn closed() -> Self {
        Self::new(MeshErrorKind::Closed)
    }

    pub(crate) fn backend(what: impl Into<String>, source: Option<Source>) -> Self {
        Self {
            kind: MeshErrorKind::Backend { what: what.into() },
            source,
        }
    }
}

impl fmt::Display for MeshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            MeshErrorKind::Connect { url } => write!(
                f,
                "cannot connect to the mesh broker at {url}; check that it runs and DDISCORD_MESH_URL"
            )?,
            MeshErrorKind::Unauthorized { url } => write!(
                f,
                "the mesh broker at {url} refused the credentials; check DDISCORD_MESH_USERNAME and DDISCORD_MESH_PASSWORD (or DDISCORD_MESH_PASSWORD_FILE, or user:password@ in DDISCORD_MESH_URL)"
            )?,
            MeshErrorKind::Tls { url } => write!(
                f,
                "the TLS handshake with the mesh broker at {url} failed; check that DDISCORD_MESH_CA_FILE names the CA that signed the broker's certificate, that the host name is one the certificate names, and that the port speaks TLS"
            )?,
            MeshErrorKind::Handshake { url, attempts } => write!(
                f,
                "the mesh broker at {url} closed {attempts} connections in a row before answering CONNECT; if the port is a TLS port use mqtts:// (or mqtt5s://), otherwise check the broker's log for why it refuses this client"
            )?,
            MeshErrorKind::Credentials { reason } => {
                write!(f, "mesh credentials or TLS files unusable: {reason}")?;
            }
            MeshErrorKind::PayloadTooLarge { bytes, max } => write!(
                f,
                "payload of {bytes} bytes is larger than the mesh limit of {max} bytes; split it or raise max_payload_bytes (and the broker's max_packet_size)"
            )?,
            MeshErrorKind::Refused {
                reason,
                code,
                permanent: true,
            } => write!(
                f,
                "the broker refused the publish for good ({reason}, MQTT 5 reason code {code:#04x}); retrying cannot help: check the broker's ACLs, topic and size limits"
            )?,
            MeshErrorKind::Refused {
                reason,
                code,
                permanent: false,
            } => write!(
                f,
                "the broker refused the publish for now ({reason}, MQTT 5 reason code {code:#04x}); retry later"
            )?,
            MeshErrorKind::Closed => f.write_str("the mesh connection is closed; connect again")?,
            MeshErrorKind::InvalidUrl { url, reason } => write!(
                f,
                "invalid mesh URL `{url}`: {reason}; use mqtt://host:port, mqtts://host:port (TLS), mqtt5://host:port, mqtt5s://host:port (each may carry user:password@ before the host), embedded://127.0.0.1:port or solace://host:port"
            )?,
            MeshErrorKind::InvalidName { name, reason } => {
                write!(f, "invalid durable subscription name `{name}`: {reason}")?;
            }
            MeshErrorKind::NoPatterns => {
                f.write_str("a durable subscription needs at least one pattern")?;
            }
            MeshErrorKind::Embedded { addr } => write!(
                f,
                "cannot start the embedded broker on {addr}; pick another port or connect to a running broker"
            )?,
            MeshErrorKind::Backend { what } => write!(f, "mesh backend error while {what}")?,
            MeshErrorKind::Unsupported { what } => {
                write!(f, "not supported in this build: {what}")?
            }
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for MeshError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puback_codes() {
        assert!(MeshError::from_puback_code(0x00).is_none());
        assert!(MeshError::from_puback_code(0x10).is_none());
        for (code, permanent) in [
            (0x87, true),
            (0x90, true),
            (0x95, true),
            (0x99, true),
            (0x97, false),
            (0x80, false),
            (0x83, false),
        ] {
            let e = MeshError::from_puback_code(code).unwrap_or_else(MeshError::closed);
            assert_eq!(e.is_permanent(), permanent, "code {code:#x}");
            assert!(e.refusal_reason().is_some());
        }
        let big = MeshError::new(MeshErrorKind::PayloadTooLarge { bytes: 2, max: 1 });
        assert!(big.is_permanent());
        assert_eq!(big.refusal_reason(), Some("payload_too_large"));
        assert!(!MeshError::closed().is_permanent());
    }
}
