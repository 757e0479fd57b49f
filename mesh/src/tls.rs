//! TLS settings from files, and the rustls client configuration built from them (rustls with
//! the ring provider, no OpenSSL). Without a CA file the server is checked against the Mozilla
//! roots compiled in (webpki-roots), which public brokers such as Solace Cloud chain to; with
//! one, against that CA only (a private CA, e.g. Memorystore's per-instance CA). The server's
//! name is always checked against its certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::secret::plain_from_env;

/// Files for a TLS connection, all PEM. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate(s) to trust instead of the built-in public roots.
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain, for brokers that authenticate clients by certificate
    /// (mutual TLS); needs [`TlsFiles::client_key_file`].
    pub client_cert_file: Option<PathBuf>,
    /// The client certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub client_key_file: Option<PathBuf>,
}

/// A client certificate chain and its private key, PEM text: `(certificate, key)`.
pub type ClientPem = (Vec<u8>, Vec<u8>);

/// Why a TLS configuration could not be built; the message names the file and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read or holds no PEM item of the expected type.
    #[error("cannot use {what} `{path}`: {reason}")]
    File {
        /// Which file (`CA file`, `client certificate`, `client key`).
        what: &'static str,
        /// Its path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A client certificate without its key, or the other way round.
    #[error(
        "a client certificate needs its key and a key its certificate: set both files or neither"
    )]
    HalfClientAuth,
    /// rustls refused the configuration (a key that does not match the certificate).
    #[error("the TLS configuration is invalid: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsFiles {
    /// The files named by `<prefix>_CA_FILE`, `<prefix>_CLIENT_CERT_FILE` and
    /// `<prefix>_CLIENT_KEY_FILE` (e.g. prefix `DDISCORD_MESH`).
    pub fn from_env(prefix: &str) -> Self {
        let file = |suffix: &str| plain_from_env(&format!("{prefix}_{suffix}")).map(PathBuf::from);
        Self {
            ca_file: file("CA_FILE"),
            client_cert_file: file("CLIENT_CERT_FILE"),
            client_key_file: file("CLIENT_KEY_FILE"),
        }
    }

    /// Whether no file is set.
    pub fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.client_cert_file.is_none() && self.client_key_file.is_none()
    }

    /// The rustls client configuration these files describe.
    ///
    /// # Errors
    /// [`TlsSetupError`] when a file cannot be read or parsed, or only half of the client
    /// authentication is given.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots()?);
        let config = match (&self.client_cert_file, &self.client_key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => builder.with_client_auth_cert(
                certificates(cert, "client certificate")?,
                private_key(key)?,
            )?,
            _ => return Err(TlsSetupError::HalfClientAuth),
        };
        Ok(Arc::new(config))
    }

    fn roots(&self) -> Result<rustls::RootCertStore, TlsSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Some(path) => {
                for cert in certificates(path, "CA file")? {
                    roots
                        .add(cert)
                        .map_err(|e| file_error("CA file", path, e.to_string()))?;
                }
            }
        }
        Ok(roots)
    }

    /// The CA file's PEM text, for clients that take PEM (the `redis` crate).
    ///
    /// # Errors
    /// [`TlsSetupError::File`] when it cannot be read.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>, TlsSetupError> {
        self.ca_file
            .as_deref()
            .map(|p| read(p, "CA file"))
            .transpose()
    }

    /// The client certificate's and key's PEM text, both or neither.
    ///
    /// # Errors
    /// [`TlsSetupError`] when a file cannot be read or only one is given.
    pub fn client_pem(&self) -> Result<Option<ClientPem>, TlsSetupError> {
        match (&self.client_cert_file, &self.client_key_file) {
            (None, None) => Ok(None),
            (Some(c), Some(k)) => Ok(Some((
                read(c, "client certificate")?,
                read(k, "client key")?,
            ))),
            _ => Err(TlsSetupError::HalfClientAuth),
        }
    }
}

fn file_error(what: &'static str, path: &Path, reason: String) -> TlsSetupError {
    TlsSetupError::File {
        what,
        path: path.display().to_string(),
        reason,
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|e| file_error(what, path, e.to_string()))
}

fn certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(
            what,
            path,
            "no `BEGIN CERTIFICATE` block".to_owned(),
        ));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let pem = read(path, "client key")?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| file_error("client key", path, format!("no private key in it: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn missing_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsFiles {
            ca_file: Some(dir.path().join("nope.pem")),
            ..TlsFiles::default()
        };
        let e = missing.client_config().unwrap_err().to_string();
        assert!(e.contains("CA file") && e.contains("nope.pem"), "{e}");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let e = TlsFiles {
            ca_file: Some(junk),
            ..TlsFiles::default()
        }
        .client_config()
        .unwrap_err()
        .to_string();
        assert!(e.contains("BEGIN CERTIFICATE"), "{e}");
        let half = TlsFiles {
            client_key_file: Some(dir.path().join("k.pem")),
            ..TlsFiles::default()
        };
        assert!(matches!(
            half.client_config(),
            Err(TlsSetupError::HalfClientAuth)
        ));
    }

    #[test]
    fn the_public_roots_are_the_default() {
        assert!(TlsFiles::default().client_config().is_ok());
    }
}
