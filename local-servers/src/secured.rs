//! TLS and logins for the private servers: a throwaway certificate authority with a server
//! certificate for `localhost` and `127.0.0.1` (generated with rcgen), plus a second CA that
//! signed nothing (to show an untrusted certificate being refused), and the settings a
//! [`crate::Mosquitto`] or [`crate::Redis`] needs to require TLS and a user name and password.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::error::{ServerError, ServerErrorKind};

/// PEM files of a throwaway PKI, in a directory the caller owns.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA that signed the server certificate: what clients trust.
    pub ca_file: PathBuf,
    /// The server certificate (SANs `localhost` and `127.0.0.1`).
    pub cert_file: PathBuf,
    /// The server certificate's private key (PKCS#8).
    pub key_file: PathBuf,
    /// Another CA, which signed nothing: trusting it instead makes the handshake fail.
    pub untrusted_ca_file: PathBuf,
}

impl Pki {
    /// Generates the CA, the server certificate and the untrusted CA into `dir` (created if
    /// missing), as `ca.pem`, `server.pem`, `server-key.pem` and `untrusted-ca.pem`.
    ///
    /// # Errors
    /// [`ServerErrorKind::Io`] when generating or writing fails.
    pub fn generate(dir: &Path) -> Result<Self, ServerError> {
        std::fs::create_dir_all(dir).map_err(ServerError::io("creating the PKI directory"))?;
        let ca = authority("DDiscord test CA")?;
        let untrusted = authority("DDiscord untrusted CA")?;
        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(pki_error)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_key = KeyPair::generate().map_err(pki_error)?;
        let server_cert = server.signed_by(&server_key, &ca).map_err(pki_error)?;
        let pki = Self {
            ca_file: dir.join("ca.pem"),
            cert_file: dir.join("server.pem"),
            key_file: dir.join("server-key.pem"),
            untrusted_ca_file: dir.join("untrusted-ca.pem"),
        };
        for (path, pem) in [
            (&pki.ca_file, ca.pem()),
            (&pki.cert_file, server_cert.pem()),
            (&pki.key_file, server_key.serialize_pem()),
            (&pki.untrusted_ca_file, untrusted.pem()),
        ] {
            std::fs::write(path, pem)
                .map_err(ServerError::io(format!("writing {}", path.display())))?;
        }
        Ok(pki)
    }
}

fn authority(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, ServerError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().map_err(pki_error)?).map_err(pki_error)
}

fn pki_error(e: rcgen::Error) -> ServerError {
    ServerError::new(ServerErrorKind::Io {
        what: format!("generating a test certificate: {e}"),
    })
}

/// What a secured server requires: TLS with `pki`'s server certificate, and this user name and
/// password (Mosquitto: its password file, anonymous clients refused; Redis: an ACL user, the
/// `default` user turned off).
#[derive(Debug, Clone)]
pub struct Secured {
    /// The certificates.
    pub pki: Pki,
    /// The one user allowed in.
    pub username: String,
    /// Its password.
    pub password: String,
}
