//! Errors that cross into JavaScript with a stable `err.code`.
//!
//! Every error is a JavaScript `Error` whose `code` property is set here, on the native side:
//! `DDISCORD_` followed by the core's [`ErrorKind::code`] (`DDISCORD_INVALID_PATTERN`, ...).
//! Synchronous calls return `napi::Result<T, String>` (a `napi::Error` whose status is the
//! code); asynchronous ones resolve to a [`Settled`], which rejects the promise with such an
//! error. The kinds are the core's list ([`ddiscord::ERROR_KINDS`], exported by
//! [`error_kinds`]): they never change meaning, new ones may be added.

use ddiscord::ERROR_KINDS;
pub use ddiscord::ErrorKind;
use ddiscord::cache::CacheError;
use ddiscord::client::ClientError;
use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi_derive::napi;

/// The code scripts see in `err.code` for `kind`, e.g. `DDISCORD_INVALID_PATTERN`.
pub fn node_code(kind: ErrorKind) -> String {
    format!("DDISCORD_{}", kind.code())
}

/// An error on its way to JavaScript: a kind and a message that says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl NodeError {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`, whose message is appended.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let message = format!("{}: {source}", message.into());
        Self {
            kind,
            message,
            source: Some(Box::new(source)),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The code scripts see (`DDISCORD_…`).
    pub fn code(&self) -> String {
        node_code(self.kind)
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` in front of its message.
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The error scripts get after using a closed object.
    pub fn closed(what: &str) -> Self {
        Self::new(
            ErrorKind::Closed,
            format!("this {what} is closed; connect() again to continue"),
        )
    }
}

impl From<NodeError> for napi::Error<String> {
    fn from(e: NodeError) -> Self {
        napi::Error::new(e.code(), e.message)
    }
}

impl From<ClientError> for NodeError {
    fn from(e: ClientError) -> Self {
        Self {
            kind: e.error_kind(),
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }
}

impl From<CacheError> for NodeError {
    fn from(e: CacheError) -> Self {
        Self::from(ClientError::from(e))
    }
}

/// `Result` with a [`NodeError`].
pub type Result<T, E = NodeError> = std::result::Result<T, E>;

/// What an asynchronous native call resolves to: its value, or a [`NodeError`] with which the
/// promise rejects (a JavaScript `Error` carrying `code`). napi-rs rejects a failed future with
/// a plain N-API status as its code, hence this type.
#[derive(Debug)]
pub struct Settled<T>(pub Result<T>);

impl<T> From<Result<T>> for Settled<T> {
    fn from(r: Result<T>) -> Self {
        Self(r)
    }
}

impl<T: ToNapiValue> ToNapiValue for Settled<T> {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        match val.0 {
            // SAFETY: called by napi-rs on the JS thread with its live `env`.
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => {
                let error = napi::JsError::from(napi::Error::<String>::from(e));
                // SAFETY: as above; `into_value` makes an `Error` with `code` set, which the
                // returned `napi::Error` keeps a reference to, so the promise rejects with it.
                let value = unsafe { error.into_value(env) };
                if value.is_null() {
                    return Err(napi::Error::from_reason("the environment is shutting down"));
                }
                let unknown = unsafe { Unknown::from_raw_unchecked(env, value) };
                Err(napi::Error::from(unknown))
            }
        }
    }
}

/// One stable error kind, as `errorKinds()` lists them.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ErrorKindEntry {
    /// The core's code, e.g. `INVALID_PATTERN`.
    pub code: String,
    /// `err.code` in JavaScript, e.g. `DDISCORD_INVALID_PATTERN`.
    pub node_code: String,
    /// The Python package's exception class, e.g. `PatternError`.
    pub python_class: String,
    /// When it happens.
    pub doc: String,
}

/// Every stable error kind, from the core's list: the JS entry builds `codes` from it.
#[napi]
pub fn error_kinds() -> Vec<ErrorKindEntry> {
    ERROR_KINDS
        .iter()
        .map(|i| ErrorKindEntry {
            code: i.code.to_owned(),
            node_code: node_code(i.kind),
            python_class: i.python_class.to_owned(),
            doc: i.doc.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_the_status_and_not_in_the_message() {
        let e = NodeError::new(ErrorKind::InvalidId, "guild id `x` is not a snowflake");
        assert_eq!(e.to_string(), "guild id `x` is not a snowflake");
        let n: napi::Error<String> = e.into();
        assert_eq!(n.status, "DDISCORD_INVALID_ID");
        assert_eq!(n.reason, "guild id `x` is not a snowflake");
    }

    #[test]
    fn every_kind_is_listed() {
        let kinds = error_kinds();
        assert_eq!(kinds.len(), ERROR_KINDS.len());
        assert!(
            kinds
                .iter()
                .any(|k| k.node_code == "DDISCORD_CORRUPT_CACHE")
        );
    }
}
