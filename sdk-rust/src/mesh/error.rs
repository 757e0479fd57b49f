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
    /// The payload is larger than [`crate::mesh::MeshConfig::max_payload_bytes`].
    PayloadTooLarge {
        /// Payload size in bytes.
        bytes: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The mesh was closed with [`crate::mesh::Mesh::close`] (or its connection task ended).
    Closed,
    /// `DDISCORD_MESH_URL` / [`crate::mesh::MeshConfig::url`] is not a supported URL.
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
            MeshErrorKind::PayloadTooLarge { bytes, max } => write!(
                f,
                "payload of {bytes} bytes is larger than the mesh limit of {max} bytes; split it or raise max_payload_bytes (and the broker's max_packet_size)"
            )?,
            MeshErrorKind::Closed => f.write_str("the mesh connection is closed; connect again")?,
            MeshErrorKind::InvalidUrl { url, reason } => write!(
                f,
                "invalid mesh URL `{url}`: {reason}; use mqtt://host:port, mqtt5://host:port, embedded://127.0.0.1:port or solace://host:port"
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
