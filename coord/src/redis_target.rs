//! How every DDiscord process reaches Redis: the URL (`redis://` or `rediss://` for TLS, with
//! an optional `user:password@`), plus credentials and TLS files from the environment, and
//! the first connection, whose failure is told apart (wrong password, untrusted certificate,
//! plain URL to a TLS port, Redis down) so the message says what to fix.
//!
//! Redis ACL users: <https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/>;
//! TLS: <https://redis.io/docs/latest/operate/oss_and_stack/management/security/encryption/>;
//! Memorystore's in-transit encryption and its CA:
//! <https://cloud.google.com/memorystore/docs/redis/about-in-transit-encryption>.

use std::fmt;

use ddiscord_mesh::secret::{
    Secret, SecretFileError, plain_from_env, redact_url, scrub, secret_from_env, url_password,
};
use ddiscord_mesh::tls::{TlsFiles, TlsSetupError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ConnectionAddr, IntoConnectionInfo as _};

/// The variable of the Redis URL.
pub const REDIS_URL_ENV: &str = "DDISCORD_REDIS_URL";
/// The variable of the ACL user name; replaces the URL's.
pub const REDIS_USERNAME_ENV: &str = "DDISCORD_REDIS_USERNAME";
/// The variable of the password (Memorystore's AUTH string); `DDISCORD_REDIS_PASSWORD_FILE`
/// names a file holding it instead. Replaces the URL's.
pub const REDIS_PASSWORD_ENV: &str = "DDISCORD_REDIS_PASSWORD";
/// The prefix of the TLS file variables: `DDISCORD_REDIS_CA_FILE` (Memorystore's
/// `server-ca.pem`), `DDISCORD_REDIS_CLIENT_CERT_FILE`, `DDISCORD_REDIS_CLIENT_KEY_FILE`.
pub const REDIS_TLS_ENV_PREFIX: &str = "DDISCORD_REDIS";

/// Where Redis is and how to log in. `Debug` never shows the password.
#[derive(Clone)]
pub struct RedisTarget {
    url: String,
    username: Option<String>,
    password: Option<Secret>,
    tls: TlsFiles,
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTarget")
            .field("url", &redact_url(&self.url))
            .field("username", &self.username)
            .field("password", &self.password)
            .field("tls", &self.tls)
            .finish()
    }
}

impl RedisTarget {
    /// `url` as given, with no credentials or TLS files beyond what it holds.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            tls: TlsFiles::default(),
        }
    }

    /// `url` plus what the environment says, as every DDiscord process reads it:
    /// `DDISCORD_REDIS_USERNAME`, `DDISCORD_REDIS_PASSWORD` (or `DDISCORD_REDIS_PASSWORD_FILE`),
    /// `DDISCORD_REDIS_CA_FILE`, `DDISCORD_REDIS_CLIENT_CERT_FILE`, `DDISCORD_REDIS_CLIENT_KEY_FILE`.
    ///
    /// # Errors
    /// [`RedisConnectErrorKind::Credentials`] when the password file cannot be read.
    pub fn from_env_with_url(url: impl Into<String>) -> Result<Self, RedisConnectError> {
        let mut target = Self::new(url);
        target.username = plain_from_env(REDIS_USERNAME_ENV);
        target.password = secret_from_env(REDIS_PASSWORD_ENV)
            .map_err(|e: SecretFileError| target.error(RedisConnectErrorKind::Credentials, e))?;
        target.tls = TlsFiles::from_env(REDIS_TLS_ENV_PREFIX);
        Ok(target)
    }

    /// Sets the ACL user name and password (replacing the URL's).
    #[must_use]
    pub fn with_credentials(mut self, username: Option<String>, password: Secret) -> Self {
        self.username = username;
        self.password = Some(password);
        self
    }

    /// Sets the TLS files (used with `rediss://`).
    #[must_use]
    pub fn with_tls(mut self, tls: TlsFiles) -> Self {
        self.tls = tls;
        self
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// A `redis` client for this target (nothing is connected yet).
    ///
    /// # Errors
    /// [`RedisConnectErrorKind::InvalidUrl`] for a URL the `redis` crate does not accept,
    /// [`RedisConnectErrorKind::Credentials`] for unusable TLS files.
    pub fn client(&self) -> Result<redis::Client, RedisConnectError> {
        let info = self
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| self.error(RedisConnectErrorKind::InvalidUrl, e))?;
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &self.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password.expose());
        }
        let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        let info = info.set_redis_settings(settings);
        if !tls || self.tls.is_empty() {
            return redis::Client::open(info)
                .map_err(|e| self.error(RedisConnectErrorKind::InvalidUrl, e));
        }
        let files = |e: TlsSetupError| self.error(RedisConnectErrorKind::Credentials, e);
        let certificates =
            redis::TlsCertificates {
                client_tls: self.tls.client_pem().map_err(files)?.map(
                    |(client_cert, client_key)| redis::ClientTlsConfig {
                        client_cert,
                        client_key,
                    },
                ),
                root_cert: self.tls.ca_pem().map_err(files)?,
            };
        redis::Client::build_with_tls(info, certificates)
            .map_err(|e| self.error(RedisConnectErrorKind::Credentials, e))
    }

    /// Connects a [`ConnectionManager`] (which reconnects by itself afterwards). The first
    /// connection's failure says what to fix.
    ///
    /// # Errors
    /// [`RedisConnectError`]: see [`RedisConnectErrorKind`].
    pub async fn connect(&self) -> Result<ConnectionManager, RedisConnectError> {
        self.connect_with(ConnectionManagerConfig::new()).await
    }

    /// As [`RedisTarget::connect`], with the manager's timeouts and retries from `config`.
    ///
    /// # Errors
    /// As [`RedisTarget::connect`].
    pub async fn connect_with(
        &self,
        config: ConnectionManagerConfig,
    ) -> Result<ConnectionManager, RedisConnectError> {
        let client = self.client()?;
        ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| self.error(classify(&e, self.uses_tls()), &e))
    }

    fn uses_tls(&self) -> bool {
        self.url.starts_with("rediss://")
    }

    /// An error of `kind` whose source is `source`'s message chain with every password of this
    /// target scrubbed out (the `redis` crate may echo the URL in a parse error).
    fn error(
        &self,
        kind: RedisConnectErrorKind,
        source: impl std::error::Error,
    ) -> RedisConnectError {
        let mut message = source.to_string();
        let mut next = source.source();
        while let Some(e) = next {
            let text = e.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            next = e.source();
        }
        let mut secrets = vec![url_password(&self.url).unwrap_or_default()];
        if let Some(p) = &self.password {
            secrets.push(p.expose());
        }
        RedisConnectError::with_source(kind, &self.url, Scrubbed(scrub(&message, &secrets)))
    }
}

/// A third-party error's message, passwords removed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Scrubbed(String);

/// What a first connection's error means (`tls`: the URL asked for TLS).
fn classify(e: &redis::RedisError, tls: bool) -> RedisConnectErrorKind {
    if matches!(e.kind(), redis::ErrorKind::AuthenticationFailed)
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"))
    {
        return RedisConnectErrorKind::Unauthorized;
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return RedisConnectErrorKind::Tls;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return RedisConnectErrorKind::Tls;
            }
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ) {
                return RedisConnectErrorKind::ClosedEarly;
            }
        }
        next = err.source();
    }
    // The `redis` crate keeps rustls' error as text only: a certificate or handshake failure
    // on a TLS URL is told by its message.
    let text = e.to_string().to_ascii_lowercase();
    if tls
        && ["certificate", "handshake", "tls", "peer", "alert"]
            .iter()
            .any(|w| text.contains(w))
    {
        return RedisConnectErrorKind::Tls;
    }
    if e.is_connection_dropped() || matches!(e.kind(), redis::ErrorKind::Parse) {
        return RedisConnectErrorKind::ClosedEarly;
    }
    RedisConnectErrorKind::Unreachable
}

/// Why Redis could not be reached: a [`RedisConnectErrorKind`], the URL (password redacted)
/// and the `redis` crate's or rustls' error as the source.
#[derive(Debug, thiserror::Error)]
#[error("{kind} (Redis at {url})")]
pub struct RedisConnectError {
    kind: RedisConnectErrorKind,
    url: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl RedisConnectError {
    fn with_source(
        kind: RedisConnectErrorKind,
        url: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            url: redact_url(url),
            source: Some(Box::new(source)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &RedisConnectErrorKind {
        &self.kind
    }
}

/// The kinds of [`RedisConnectError`]; each message says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConnectErrorKind {
    /// The URL is not one the `redis` crate accepts.
    #[error(
        "DDISCORD_REDIS_URL is not a valid Redis URL; use redis://[user:password@]host:port or rediss:// for TLS"
    )]
    InvalidUrl,
    /// The password file or TLS files cannot be read or used.
    #[error(
        "the Redis credentials or TLS files cannot be used; check DDISCORD_REDIS_PASSWORD_FILE and DDISCORD_REDIS_CA_FILE / _CLIENT_CERT_FILE / _CLIENT_KEY_FILE"
    )]
    Credentials,
    /// Redis refused the user name or password (`WRONGPASS`, `NOAUTH`, `NOPERM`).
    #[error(
        "Redis refused the credentials; check DDISCORD_REDIS_USERNAME and DDISCORD_REDIS_PASSWORD (or DDISCORD_REDIS_PASSWORD_FILE, or user:password@ in DDISCORD_REDIS_URL) and the user's ACL"
    )]
    Unauthorized,
    /// The TLS handshake failed: an untrusted certificate (set `DDISCORD_REDIS_CA_FILE` to the
    /// CA that signed it), a host name it does not name, or a port without TLS.
    #[error(
        "the TLS handshake with Redis failed; set DDISCORD_REDIS_CA_FILE to the CA that signed the server's certificate (Memorystore: its server-ca.pem), check the host name, and that the port speaks TLS"
    )]
    Tls,
    /// Redis closed the connection before answering: usually `redis://` pointed at a TLS port.
    #[error(
        "Redis closed the connection before answering; if the port is a TLS port use rediss://"
    )]
    ClosedEarly,
    /// Redis cannot be reached (refused, timed out, name not found).
    #[error("cannot reach Redis; check DDISCORD_REDIS_URL and that Redis is up")]
    Unreachable,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_password_never_prints() {
        let target = RedisTarget::new("rediss://default:hunter2@10.0.0.3:6378")
            .with_credentials(Some("bot".into()), Secret::new("hunter3"));
        let printed = format!("{target:?} {}", target.redacted_url());
        assert!(
            !printed.contains("hunter2") && !printed.contains("hunter3"),
            "{printed}"
        );
        let e = RedisTarget::new("redis://u:hunter2@host:notaport")
            .client()
            .unwrap_err();
        assert_eq!(e.kind(), &RedisConnectErrorKind::InvalidUrl);
        let chain = format!("{e} {:?}", std::error::Error::source(&e));
        assert!(!chain.contains("hunter2"), "{chain}");
    }
}
