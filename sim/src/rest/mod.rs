//! The REST routes a stock client calls while logging in, under `/api/v10`: enough for a
//! library that checks its token with `GET /users/@me` and reads its application before it
//! connects the gateway. Each answers as Discord does, with Discord's JSON error shapes
//! (<https://discord.com/developers/docs/reference#error-messages>) and rate-limit headers
//! (<https://discord.com/developers/docs/topics/rate-limits#header-format>).
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v10/gateway` | `{url}` (no token needed) |
//! | `GET /api/v10/gateway/bot` | `{url, shards, session_start_limit}` ([Get Gateway Bot](https://discord.com/developers/docs/events/gateway#get-gateway-bot)) |
//! | `GET /api/v10/users/@me` | the bot's user, as READY's `user` ([Get Current User](https://discord.com/developers/docs/resources/user#get-current-user)) |
//! | `GET /api/v10/applications/@me` | the bot's application ([Get Current Application](https://discord.com/developers/docs/resources/application#get-current-application)) |
//! | `GET /api/v10/oauth2/applications/@me` | the same application ([Get Current Bot Application Information](https://discord.com/developers/docs/topics/oauth2#get-current-bot-application-information)) |
//! | routes of [`messages`], [`members`], [`interactions`] | as there |
//! | any other `/api/…` | `404 {"message": "404: Not Found", "code": 0}` |
//!
//!
//! The routes a bot acts through act on the simulated world and dispatch the gateway events
//! Discord sends for the change to the sessions whose intents allow them: [`messages`]
//! (channels and messages), [`members`] (guilds, members, roles, bans), [`interactions`]
//! (interaction responses and follow-up messages). Unknown resources get Discord's JSON error
//! codes (10003 Unknown Channel, 10004 Unknown Guild, 10007 Unknown Member, 10008 Unknown
//! Message, 10011 Unknown Role, 10013 Unknown User, 10026 Unknown Ban, ...;
//! <https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes>).
//!
//! Every route but `/gateway` needs `Authorization: Bot <token>`; without it: `401
//! {"message": "401: Unauthorized", "code": 0}`. The login routes carry constant rate-limit
//! headers; the others are limited as [`limits`] describes.
// Handlers answer a refused request with the response itself (`Result<_, Response>`): it is
// built once per request and sent at once, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use crate::gateway::identify::token_ok;
use crate::state::{Shared, lock};
use crate::world::World;

pub(crate) mod interactions;
pub mod limits;
pub(crate) mod members;
pub(crate) mod messages;

use limits::{RestLimits, RouteKey};

/// Application flags for the privileged intents the application has enabled
/// (<https://discord.com/developers/docs/resources/application#application-object-application-flags>):
/// `GATEWAY_PRESENCE` (1 << 12), `GATEWAY_GUILD_MEMBERS` (1 << 14), `GATEWAY_MESSAGE_CONTENT`
/// (1 << 18), by the intent bit each allows.
const INTENT_FLAGS: [(u64, u64); 3] = [(1 << 8, 1 << 12), (1 << 1, 1 << 14), (1 << 15, 1 << 18)];

/// What the REST routes keep beside the world: the limiter, the messages the bot posted (with
/// their content), bans, and interaction responses.
#[derive(Debug)]
pub(crate) struct RestState {
    pub limits: RestLimits,
    /// Messages created through REST, by snowflake, as `GET` returns them.
    pub messages: HashMap<u64, Value>,
    /// Bans by (guild, user): the ban object `{reason, user}`.
    pub bans: HashMap<(u64, u64), Value>,
    /// Interactions answered, by token.
    pub interactions: HashMap<String, interactions::Answered>,
}

impl RestState {
    pub(crate) fn new(cfg: limits::RestLimitConfig) -> Self {
        Self {
            limits: RestLimits::new(cfg),
            messages: HashMap::new(),
            bans: HashMap::new(),
            interactions: HashMap::new(),
        }
    }
}

/// The `/api/v10` routes, merged into the simulator's router.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v10/gateway", get(gateway))
        .route("/api/v10/gateway/bot", get(gateway_bot))
        .route("/api/v10/users/@me", get(current_user))
        .route("/api/v10/applications/@me", get(application))
        .route("/api/v10/oauth2/applications/@me", get(application))
        .merge(messages::routes())
        .merge(members::routes())
        .merge(interactions::routes())
        .route("/api/{*rest}", any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
}

/// A JSON answer with the rate-limit headers Discord sends on every route.
fn answer(status: StatusCode, bucket: &'static str, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", "5"),
        ("x-ratelimit-remaining", "4"),
        ("x-ratelimit-reset-after", "1.000"),
        ("x-ratelimit-bucket", bucket),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() + 1.0);
    if let Ok(v) = HeaderValue::from_str(&format!("{reset:.3}")) {
        headers.insert("x-ratelimit-reset", v);
    }
    response
}

/// Whether the request carries `Authorization: Bot <token>` with the simulator's token.
fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bot "))
        .is_some_and(|t| token_ok(t, &s.cfg.token))
}

/// Discord's answer to a request without a valid token.
fn unauthorized() -> Response {
    answer(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        json!({"message": "401: Unauthorized", "code": 0}),
    )
}

/// Discord's JSON error: `{"message", "code"}`
/// (<https://discord.com/developers/docs/reference#error-messages>).
pub(crate) fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(json!({"message": message, "code": code}))).into_response()
}

/// Discord's `400 Invalid Form Body` (code 50035) with one field error.
pub(crate) fn invalid_form(field: &str, code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {field: {"_errors": [{"code": code, "message": message}]}},
        })),
    )
        .into_response()
}

/// A JSON request body, or Discord's `400` for one that is not JSON (code 50109).
pub(crate) fn json_body(body: &[u8]) -> Result<Value, Response> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
        )
    })
}

/// A snowflake path segment, or Discord's `404` for one that is not.
pub(crate) fn path_id(segment: &str) -> Result<u64, Response> {
    segment
        .parse::<u64>()
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, 0, "404: Not Found"))
}

/// Serves one request of a limited route: checks the token (interaction routes, exempt from
/// the global limit, carry theirs in the path and need none), admits it against `key`'s bucket
/// and the global limit, runs `f`, and adds the bucket's headers. Answers 401, 403 and 429 are
/// counted as invalid requests.
pub(crate) fn serve(
    s: &Shared,
    headers: &HeaderMap,
    key: RouteKey,
    f: impl FnOnce(&Shared) -> Response,
) -> Response {
    if key.global && !authorized(s, headers) {
        lock(&s.rest).limits.counts.invalid += 1;
        return unauthorized();
    }
    let admitted = lock(&s.rest).limits.admit(key, Instant::now());
    let bucket = match admitted {
        Ok(h) => h,
        Err(too_many) => return too_many,
    };
    let mut response = f(s);
    if matches!(response.status().as_u16(), 401 | 403) {
        lock(&s.rest).limits.counts.invalid += 1;
    }
    response.headers_mut().extend(bucket);
    response
}

/// Sends the dispatch `name` with `d` for guild `guild_id` to the session of the shard that
/// owns the guild (sessions without the intent it needs skip it).
pub(crate) fn dispatch(s: &Shared, guild_id: u64, name: &str, d: &Value) {
    let shard = crate::world::shard_of(guild_id, s.cfg.shards);
    s.push_to_shard(shard, name, Some(guild_id), &d.to_string());
}

/// The guild index and channel (or active thread) object of `channel_id`.
pub(crate) fn find_channel(world: &World, channel_id: u64) -> Option<(usize, Value)> {
    world.guilds.iter().enumerate().find_map(|(i, g)| {
        g.channels
            .iter()
            .chain(g.threads.iter())
            .find(|c| crate::world::id_of(c, "id") == Some(channel_id))
            .map(|c| {
                let mut c = c.clone();
                c["guild_id"] = json!(g.id.to_string());
                (i, c)
            })
    })
}

/// Discord's `404 Unknown Channel` (10003).
pub(crate) fn unknown_channel() -> Response {
    error(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
}

/// `204 No Content`.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `200` with a JSON body.
pub(crate) fn ok(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

async fn gateway(State(s): State<Arc<Shared>>) -> Response {
    answer(StatusCode::OK, "gateway", json!({"url": s.ws_url}))
}

async fn gateway_bot(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let limit = lock(&s.limits).snapshot(s.clock.now_ms());
    answer(
        StatusCode::OK,
        "gateway-bot",
        json!({"url": s.ws_url, "shards": s.cfg.shards, "session_start_limit": limit}),
    )
}

async fn current_user(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let user = lock(&s.world).bot_user.clone();
    answer(StatusCode::OK, "users-me", user)
}

async fn application(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let (id, bot, guilds) = {
        let world = lock(&s.world);
        (
            world.bot_id.to_string(),
            world.bot_user.clone(),
            world.guilds.len(),
        )
    };
    let flags: u64 = INTENT_FLAGS
        .iter()
        .filter(|(intent, _)| s.cfg.privileged_intents & intent != 0)
        .map(|(_, flag)| flag)
        .sum();
    let name = bot.get("username").cloned().unwrap_or(Value::Null);
    answer(
        StatusCode::OK,
        "applications-me",
        json!({
            "id": id,
            "name": name,
            "icon": null,
            "description": "",
            "summary": "",
            "type": null,
            "bot": bot,
            "bot_public": false,
            "bot_require_code_grant": false,
            "owner": bot,
            "team": null,
            "verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
            "flags": flags,
            "approximate_guild_count": guilds,
            "redirect_uris": [],
            "interactions_endpoint_url": null,
            "role_connections_verification_url": null,
            "tags": [],
        }),
    )
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed")
}

async fn not_found() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "not-found",
        json!({"message": "404: Not Found", "code": 0}),
    )
}
