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
//! | any other `/api/…` | `404 {"message": "404: Not Found", "code": 0}` |
//!
//! Every route but `/gateway` needs `Authorization: Bot <token>`; without it: `401
//! {"message": "401: Unauthorized", "code": 0}`. The rate-limit headers are constant (every
//! route has its own bucket with 5 requests per second left): the simulator does not limit REST.
//! Routes are added to [`routes`] as the REST surface grows.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::gateway::identify::token_ok;
use crate::state::{Shared, lock};

/// Application flags for the privileged intents the application has enabled
/// (<https://discord.com/developers/docs/resources/application#application-object-application-flags>):
/// `GATEWAY_PRESENCE` (1 << 12), `GATEWAY_GUILD_MEMBERS` (1 << 14), `GATEWAY_MESSAGE_CONTENT`
/// (1 << 18), by the intent bit each allows.
const INTENT_FLAGS: [(u64, u64); 3] = [(1 << 8, 1 << 12), (1 << 1, 1 << 14), (1 << 15, 1 << 18)];

/// The `/api/v10` routes, merged into the simulator's router.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v10/gateway", get(gateway))
        .route("/api/v10/gateway/bot", get(gateway_bot))
        .route("/api/v10/users/@me", get(current_user))
        .route("/api/v10/applications/@me", get(application))
        .route("/api/v10/oauth2/applications/@me", get(application))
        .route("/api/{*rest}", get(not_found).post(not_found))
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

async fn not_found() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "not-found",
        json!({"message": "404: Not Found", "code": 0}),
    )
}
