//! HTTP interactions: the simulator plays Discord's side of an Interactions Endpoint URL. It
//! signs an interaction with its own Ed25519 key, POSTs it to the bot's endpoint as Discord
//! does, and returns what the endpoint answered, so an endpoint can be tested without Discord
//! (<https://discord.com/developers/docs/interactions/receiving-and-responding#receiving-an-interaction>,
//! <https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers>).
//!
//! | method and path | effect |
//! |---|---|
//! | `GET /control/interactions/public-key` | `{"public_key": "<64 hex>"}`: configure the endpoint with it (`DISCORD_PUBLIC_KEY`) |
//! | `POST /control/interaction?url=U&age_s=N` (body: an interaction, or empty) | signs and POSTs it to `U` (default: [`crate::SimConfig::interactions_url`]), with a timestamp `N` s in the past (default 0); answers `{"status", "body", "elapsed_ms"}` |
//!
//! An empty body sends a generated slash command (`/ping`, interaction type 2) in the first
//! guild, with fresh snowflakes. The key pair is derived from [`crate::SimConfig::seed`], so
//! it is stable across runs with one seed; it is a test key, not a secret. Only `http://` URLs
//! are supported (put the endpoint's own port, not a TLS terminator, in the URL).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ed25519_dalek::{Signer as _, SigningKey};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::{Shared, lock};

/// How long the simulator waits for the endpoint's answer: longer than Discord's 3 s, so a
/// slow endpoint is measured rather than cut off.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The simulator's signing key for `seed` (a test key derived from the seed, not a secret).
pub fn signing_key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        // SplitMix64 over the seed: distinct, well-mixed words.
        let mut z = seed
            .wrapping_add(0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(i as u64 + 1))
            .wrapping_add(0x1D5C_0DE5_1D5C_0DE5);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    SigningKey::from_bytes(&bytes)
}

/// The public key of [`signing_key`]`(seed)`, as the 64 hexadecimal characters the Developer
/// Portal shows and `ddiscord interactions` reads from `DISCORD_PUBLIC_KEY`.
pub fn public_key_hex(seed: u64) -> String {
    hex::encode(signing_key(seed).verifying_key().to_bytes())
}

/// Signs `body` at `timestamp` (Unix seconds, as decimal text) as Discord does: Ed25519 over
/// the timestamp followed by the body. Returns the `X-Signature-Ed25519` value (128 hex).
pub fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    hex::encode(key.sign(&message).to_bytes())
}

/// What the endpoint answered one POST.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointAnswer {
    /// HTTP status.
    pub status: u16,
    /// The body: parsed JSON when it is JSON, else a string.
    pub body: Value,
    /// Time from sending the request to reading the whole answer, in milliseconds.
    pub elapsed_ms: f64,
}

/// Why an interaction could not be delivered.
#[derive(Debug, thiserror::Error)]
#[error("POST {url}: {reason}")]
pub struct DeliveryError {
    /// The endpoint URL.
    pub url: String,
    /// What failed (connection, HTTP, timeout, URL).
    pub reason: String,
}

/// POSTs `body` to `url` (`http://host:port/path`) with the signature headers Discord sends,
/// signed with `key` at Unix time `timestamp`, and reads the answer (at most
/// [`ANSWER_TIMEOUT`]).
///
/// # Errors
/// [`DeliveryError`] when the URL is not `http://`, the endpoint cannot be reached, or it does
/// not answer in time.
pub async fn deliver(
    key: &SigningKey,
    url: &str,
    body: Bytes,
    timestamp: u64,
) -> Result<EndpointAnswer, DeliveryError> {
    let ts = timestamp.to_string();
    let signature = sign(key, &ts, &body);
    post_signed(url, body, &ts, &signature).await
}

/// POSTs `body` to `url` with the given `X-Signature-Timestamp` and `X-Signature-Ed25519`
/// values as they are (for testing how an endpoint treats a bad signature), and reads the
/// answer.
///
/// # Errors
/// As [`deliver`].
pub async fn post_signed(
    url: &str,
    body: Bytes,
    timestamp: &str,
    signature: &str,
) -> Result<EndpointAnswer, DeliveryError> {
    let fail = |reason: String| DeliveryError {
        url: url.to_owned(),
        reason,
    };
    let uri: hyper::Uri = url.parse().map_err(|e| fail(format!("invalid URL: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(fail("only http:// URLs are supported".to_owned()));
    }
    let host = uri
        .host()
        .ok_or_else(|| fail("the URL has no host".to_owned()))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let request = hyper::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            "Discord-Interactions/1.0 (+https://discord.com)",
        )
        .header("X-Signature-Ed25519", signature)
        .header("X-Signature-Timestamp", timestamp)
        .body(Full::new(body))
        .map_err(|e| fail(e.to_string()))?;
    let started = tokio::time::Instant::now();
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| fail(format!("connect: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail(format!("handshake: {e}")))?;
        let conn = tokio::spawn(conn);
        let answer = sender
            .send_request(request)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = answer.status().as_u16();
        let bytes = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| fail(format!("reading the answer: {e}")))?
            .to_bytes();
        conn.abort();
        Ok::<_, DeliveryError>((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| fail(format!("no answer within {ANSWER_TIMEOUT:?}")))??;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(EndpointAnswer {
        status,
        body,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// The `/control` routes of this module.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/control/interactions/public-key", get(public_key))
        .route("/control/interaction", post(send))
}

async fn public_key(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "public_key": public_key_hex(shared.cfg.seed) }))
}

#[derive(Debug, Deserialize)]
struct SendQuery {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    age_s: u64,
}

/// A slash command `/ping` in the first guild, with fresh snowflakes (interaction object:
/// <https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object>).
fn generated_command(shared: &Shared) -> Value {
    let mut world = lock(&shared.world);
    let id = world.ids.next_id();
    let command_id = world.ids.next_id();
    let application_id = world.bot_id;
    let guild = world.guilds.first().map(|g| {
        let channel = g.text_ids.first().copied();
        let member = g.members.first().cloned();
        (g.id, channel, member)
    });
    let mut v = json!({
        "id": id.to_string(),
        "application_id": application_id.to_string(),
        "type": 2,
        "token": format!("sim-interaction-token-{id}"),
        "version": 1,
        "locale": "en-US",
        "app_permissions": "2248473465835073",
        "authorizing_integration_owners": {"0": ""},
        "context": 0,
        "entitlements": [],
        "attachment_size_limit": 10485760,
        "data": {"id": command_id.to_string(), "name": "ping", "type": 1},
    });
    if let Some((guild_id, channel, member)) = guild {
        v["guild_id"] = json!(guild_id.to_string());
        v["guild_locale"] = json!("en-US");
        if let Some(channel) = channel {
            v["channel_id"] = json!(channel.to_string());
        }
        if let Some(member) = member {
            v["member"] = member;
        }
    }
    v
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<SendQuery>,
    body: Bytes,
) -> Response {
    let Some(url) = q.url.or_else(|| shared.cfg.interactions_url.clone()) else {
        return (
            StatusCode::BAD_REQUEST,
            "no endpoint: pass ?url=http://host:port/interactions or start the simulator with --interactions-url",
        )
            .into_response();
    };
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from(generated_command(&shared).to_string())
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(_)) => body,
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    "the body must be an interaction object (JSON) or empty",
                )
                    .into_response();
            }
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let key = signing_key(shared.cfg.seed);
    match deliver(&key, &url, body, now.saturating_sub(q.age_s)).await {
        Ok(a) => Json(json!({"status": a.status, "body": a.body, "elapsed_ms": a.elapsed_ms}))
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_per_seed() {
        assert_eq!(public_key_hex(1), public_key_hex(1));
        assert_ne!(public_key_hex(1), public_key_hex(2));
        assert_eq!(public_key_hex(1).len(), 64);
        assert_eq!(sign(&signing_key(1), "1", b"{}").len(), 128);
    }
}
