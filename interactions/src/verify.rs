//! Request verification: Discord signs every interaction it POSTs with the application's
//! Ed25519 key, over the `X-Signature-Timestamp` header followed by the raw body, and puts the
//! signature (hex) in `X-Signature-Ed25519`. An endpoint must answer 401 to a request whose
//! signature does not verify; Discord sends such requests on purpose when the endpoint URL is
//! saved. Source:
//! <https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers>.
//!
//! The timestamp is Unix time in seconds. A request whose timestamp is further than the
//! allowed age from this host's clock (either way) is refused too, so a captured request cannot
//! be replayed later.

use std::time::Duration;

use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

/// Header carrying the signature: 64 bytes as 128 hexadecimal characters.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// Header carrying the signed timestamp: Unix time in seconds, as decimal text.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// Why a request was refused (answered 401), or why a public key was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The application's public key is not 32 bytes of hexadecimal (64 characters) or not a
    /// valid Ed25519 point.
    #[error(
        "the public key must be the application's 64 hexadecimal characters (Developer Portal, General Information, PUBLIC KEY): {reason}"
    )]
    PublicKey {
        /// What was wrong.
        reason: String,
    },
    /// A signature header is missing.
    #[error("missing header {header}")]
    MissingHeader {
        /// The header's name.
        header: &'static str,
    },
    /// `X-Signature-Ed25519` is not 128 hexadecimal characters.
    #[error("X-Signature-Ed25519 is not a hexadecimal 64-byte signature")]
    MalformedSignature,
    /// `X-Signature-Timestamp` is not a decimal Unix time in seconds.
    #[error("X-Signature-Timestamp is not a Unix time in seconds")]
    MalformedTimestamp,
    /// The timestamp is further from this host's clock than the allowed age.
    #[error("X-Signature-Timestamp is {skew_secs} s away from now (at most {max_age_secs} s)")]
    Stale {
        /// Seconds between the timestamp and now, either way.
        skew_secs: u64,
        /// The allowed age in seconds.
        max_age_secs: u64,
    },
    /// The signature does not verify over timestamp and body with the application's key.
    #[error("invalid request signature")]
    BadSignature,
}

/// Verifies request signatures against one application's public key.
#[derive(Debug, Clone)]
pub struct Verifier {
    key: VerifyingKey,
    max_age: Duration,
}

impl Verifier {
    /// A verifier for the public key `hex_key` (64 hexadecimal characters, as the Developer
    /// Portal shows it) that refuses timestamps more than `max_age` away from now.
    ///
    /// # Errors
    /// [`VerifyError::PublicKey`] when the key is not 32 hexadecimal bytes or not an Ed25519
    /// public key.
    pub fn new(hex_key: &str, max_age: Duration) -> Result<Self, VerifyError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_key.trim(), &mut bytes).map_err(|e| VerifyError::PublicKey {
            reason: e.to_string(),
        })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| VerifyError::PublicKey {
            reason: e.to_string(),
        })?;
        Ok(Self { key, max_age })
    }

    /// The allowed distance between a request's timestamp and now.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Checks one request: `signature` and `timestamp` are the header values (`None` when
    /// absent), `body` the raw body, `now_secs` this host's Unix time in seconds.
    ///
    /// The timestamp is checked before the signature, which is the costly part
    /// (`scripts/bench interactions` measures it).
    ///
    /// # Errors
    /// [`VerifyError`] saying why the request must be refused with 401.
    pub fn verify(
        &self,
        signature: Option<&[u8]>,
        timestamp: Option<&[u8]>,
        body: &[u8],
        now_secs: u64,
    ) -> Result<(), VerifyError> {
        let signature = signature.ok_or(VerifyError::MissingHeader {
            header: "X-Signature-Ed25519",
        })?;
        let timestamp = timestamp.ok_or(VerifyError::MissingHeader {
            header: "X-Signature-Timestamp",
        })?;
        let at: u64 = std::str::from_utf8(timestamp)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or(VerifyError::MalformedTimestamp)?;
        let skew_secs = now_secs.abs_diff(at);
        if skew_secs > self.max_age.as_secs() {
            return Err(VerifyError::Stale {
                skew_secs,
                max_age_secs: self.max_age.as_secs(),
            });
        }
        let mut sig = [0u8; 64];
        hex::decode_to_slice(signature, &mut sig).map_err(|_| VerifyError::MalformedSignature)?;
        let sig = Signature::from_bytes(&sig);
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp);
        message.extend_from_slice(body);
        self.key
            .verify(&message, &sig)
            .map_err(|_| VerifyError::BadSignature)
    }
}

/// Unix time in seconds on this host (0 if the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn signed(key: &SigningKey, ts: &str, body: &[u8]) -> String {
        let mut m = ts.as_bytes().to_vec();
        m.extend_from_slice(body);
        hex::encode(key.sign(&m).to_bytes())
    }

    #[test]
    fn accepts_valid_and_refuses_the_rest() {
        let k = key();
        let v = Verifier::new(
            &hex::encode(k.verifying_key().to_bytes()),
            Duration::from_secs(300),
        )
        .unwrap();
        let body = br#"{"type":1}"#;
        let sig = signed(&k, "1000", body);
        assert_eq!(
            v.verify(Some(sig.as_bytes()), Some(b"1000"), body, 1000),
            Ok(())
        );
        assert_eq!(
            v.verify(Some(sig.as_bytes()), Some(b"1000"), br#"{"type":2}"#, 1000),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            v.verify(Some(sig.as_bytes()), Some(b"1001"), body, 1000),
            Err(VerifyError::BadSignature)
        );
        assert!(matches!(
            v.verify(Some(sig.as_bytes()), Some(b"1000"), body, 1301),
            Err(VerifyError::Stale { skew_secs: 301, .. })
        ));
        assert!(matches!(
            v.verify(Some(sig.as_bytes()), Some(b"1000"), body, 699),
            Err(VerifyError::Stale { .. })
        ));
        assert_eq!(
            v.verify(Some(b"zz"), Some(b"1000"), body, 1000),
            Err(VerifyError::MalformedSignature)
        );
        assert_eq!(
            v.verify(Some(sig.as_bytes()), Some(b"x"), body, 1000),
            Err(VerifyError::MalformedTimestamp)
        );
        assert!(matches!(
            v.verify(None, Some(b"1000"), body, 1000),
            Err(VerifyError::MissingHeader { .. })
        ));
    }

    #[test]
    fn public_key_must_be_hex_32_bytes() {
        assert!(Verifier::new("abcd", Duration::from_secs(1)).is_err());
        assert!(Verifier::new(&"zz".repeat(32), Duration::from_secs(1)).is_err());
    }
}
