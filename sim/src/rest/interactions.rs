//! Interaction responses and follow-up messages
//! (<https://discord.com/developers/docs/interactions/receiving-and-responding>):
//!
//! | route | answer |
//! |---|---|
//! | `POST /interactions/{id}/{token}/callback` | 204; a second response to the same token is 400 40060 |
//! | `POST /webhooks/{application}/{token}` | the follow-up message |
//! | `GET/PATCH/DELETE /webhooks/{application}/{token}/messages/{m}` | the message (`@original` is the response's), 204 for `DELETE` |
//!
//! The simulator does not generate interactions: a callback is accepted for any id and token,
//! and its messages are placed in the first text channel of the first guild. Follow-ups need
//! an answered token and the bot's application id (404 10015 Unknown Webhook otherwise). These
//! routes are not bound to the global limit, as on Discord
//! (<https://discord.com/developers/docs/interactions/receiving-and-responding#responding-to-an-interaction>).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::limits::RouteKey;
use super::{error, json_body, no_content, ok, path_id, serve};
use crate::state::{Shared, lock};
use crate::world::iso8601;

/// An answered interaction: its original response message (for types 4 and 7) and follow-ups.
#[derive(Debug, Default)]
pub(crate) struct Answered {
    pub original: Option<Value>,
    pub followups: HashMap<u64, Value>,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/api/v10/interactions/{interaction}/{token}/callback",
            post(callback),
        )
        .route("/api/v10/webhooks/{application}/{token}", post(followup))
        .route(
            "/api/v10/webhooks/{application}/{token}/messages/{message}",
            get(get_message).patch(edit_message).delete(delete_message),
        )
}

fn key(bucket: &'static str, major: &str) -> RouteKey {
    RouteKey {
        bucket,
        major: major.parse().unwrap_or(0),
        global: false,
    }
}

fn unknown_webhook() -> Response {
    error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook")
}

/// A message posted by the application's webhook with `data` (`content`, `embeds`, ...).
fn webhook_message(s: &Shared, data: &Value) -> Value {
    let mut world = lock(&s.world);
    let id = world.new_id();
    let channel = world
        .guilds
        .first()
        .and_then(|g| g.text_ids.first())
        .copied()
        .unwrap_or(0);
    json!({
        "id": id.to_string(),
        "type": 20,
        "channel_id": channel.to_string(),
        "author": world.bot_user.clone(),
        "content": data.get("content").cloned().unwrap_or(json!("")),
        "embeds": data.get("embeds").cloned().unwrap_or(json!([])),
        "attachments": [],
        "mentions": [],
        "mention_everyone": false,
        "mention_roles": [],
        "pinned": false,
        "tts": false,
        "timestamp": iso8601(world.now_unix_ms),
        "edited_timestamp": null,
        "flags": data.get("flags").cloned().unwrap_or(json!(0)),
        "webhook_id": world.bot_id.to_string(),
        "application_id": world.bot_id.to_string(),
    })
}

async fn callback(
    State(s): State<Arc<Shared>>,
    Path((interaction, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &s,
        &headers,
        key("interaction-callback", &interaction),
        |s| {
            let body = match (path_id(&interaction), json_body(&body)) {
                (Ok(_), Ok(b)) => b,
                (Err(r), _) | (_, Err(r)) => return r,
            };
            if lock(&s.rest).interactions.contains_key(&token) {
                return error(
                    StatusCode::BAD_REQUEST,
                    40060,
                    "Interaction has already been acknowledged.",
                );
            }
            let original = match body.get("type").and_then(Value::as_u64) {
                Some(4 | 7) => Some(webhook_message(s, body.get("data").unwrap_or(&json!({})))),
                Some(1 | 5 | 6 | 8 | 9 | 12) => None,
                _ => {
                    return super::invalid_form(
                        "type",
                        "BASE_TYPE_CHOICES",
                        "Value must be one of {1, 4, 5, 6, 7, 8, 9, 12}.",
                    );
                }
            };
            lock(&s.rest).interactions.insert(
                token.clone(),
                Answered {
                    original,
                    followups: HashMap::new(),
                },
            );
            no_content()
        },
    )
}

/// Checks the application id of a webhook route against the bot's.
fn own_application(s: &Shared, application: &str) -> bool {
    path_id(application).is_ok_and(|a| a == lock(&s.world).bot_id)
}

async fn followup(
    State(s): State<Arc<Shared>>,
    Path((application, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&s, &headers, key("webhook-execute", &application), |s| {
        let body = match json_body(&body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        if !own_application(s, &application) || !lock(&s.rest).interactions.contains_key(&token) {
            return unknown_webhook();
        }
        let message = webhook_message(s, &body);
        let id = crate::world::id_of(&message, "id").unwrap_or(0);
        if let Some(a) = lock(&s.rest).interactions.get_mut(&token) {
            a.followups.insert(id, message.clone());
        }
        ok(message)
    })
}

/// Runs `f` on the message `message` (`@original` or a follow-up id) of `token`.
fn with_message(
    s: &Shared,
    application: &str,
    token: &str,
    message: &str,
    f: impl FnOnce(&mut Answered, Option<u64>) -> Response,
) -> Response {
    if !own_application(s, application) {
        return unknown_webhook();
    }
    let id = if message == "@original" {
        None
    } else {
        match path_id(message) {
            Ok(id) => Some(id),
            Err(r) => return r,
        }
    };
    let mut rest = lock(&s.rest);
    let Some(answered) = rest.interactions.get_mut(token) else {
        return unknown_webhook();
    };
    let exists = match id {
        None => answered.original.is_some(),
        Some(id) => answered.followups.contains_key(&id),
    };
    if !exists {
        return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
    }
    f(answered, id)
}

fn slot(a: &mut Answered, id: Option<u64>) -> Option<&mut Value> {
    match id {
        None => a.original.as_mut(),
        Some(id) => a.followups.get_mut(&id),
    }
}

async fn get_message(
    State(s): State<Arc<Shared>>,
    Path((application, token, message)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("webhook-message", &application), |s| {
        with_message(s, &application, &token, &message, |a, id| {
            slot(a, id).map_or_else(no_content, |m| ok(m.clone()))
        })
    })
}

async fn edit_message(
    State(s): State<Arc<Shared>>,
    Path((application, token, message)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&s, &headers, key("webhook-message", &application), |s| {
        let body = match json_body(&body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let now = lock(&s.world).now_unix_ms;
        with_message(s, &application, &token, &message, |a, id| {
            let Some(m) = slot(a, id) else {
                return no_content();
            };
            for field in ["content", "embeds", "flags"] {
                if let Some(v) = body.get(field) {
                    m[field] = v.clone();
                }
            }
            m["edited_timestamp"] = json!(iso8601(now));
            ok(m.clone())
        })
    })
}

async fn delete_message(
    State(s): State<Arc<Shared>>,
    Path((application, token, message)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("webhook-message", &application), |s| {
        with_message(s, &application, &token, &message, |a, id| {
            match id {
                None => a.original = None,
                Some(id) => {
                    a.followups.remove(&id);
                }
            }
            no_content()
        })
    })
}
