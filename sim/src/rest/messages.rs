//! Channel and message routes (<https://discord.com/developers/docs/resources/message>,
//! <https://discord.com/developers/docs/resources/channel#get-channel>):
//!
//! | route | answer | dispatch |
//! |---|---|---|
//! | `GET /channels/{c}` | the channel (or active thread), with `guild_id` | |
//! | `POST /channels/{c}/messages` | the new message, authored by the bot | MESSAGE_CREATE |
//! | `GET /channels/{c}/messages/{m}` | the message | |
//! | `PATCH /channels/{c}/messages/{m}` | the edited message (only the bot's own: others get 403 50005) | MESSAGE_UPDATE |
//! | `DELETE /channels/{c}/messages/{m}` | 204 | MESSAGE_DELETE |
//! | `POST /channels/{c}/messages/bulk-delete` | 204; `messages` must hold 2 to 100 ids (400 50035 otherwise); unknown ids are skipped | MESSAGE_DELETE_BULK |
//!
//! The messages are those the traffic generated (recent ones; their content is not kept, so
//! `GET` returns it empty) and those created here. An unknown channel is 404 10003, an
//! unknown message 404 10008.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::limits::RouteKey;
use super::{
    dispatch, error, find_channel, invalid_form, json_body, no_content, ok, path_id, serve,
    unknown_channel,
};
use crate::state::{Shared, lock};
use crate::world::{MessageRef, World, iso8601};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v10/channels/{channel}", get(get_channel))
        .route("/api/v10/channels/{channel}/messages", post(create))
        .route(
            "/api/v10/channels/{channel}/messages/bulk-delete",
            post(bulk_delete),
        )
        .route(
            "/api/v10/channels/{channel}/messages/{message}",
            get(get_message).patch(edit).delete(delete),
        )
}

fn key(bucket: &'static str, major: &str) -> RouteKey {
    RouteKey {
        bucket,
        major: major.parse().unwrap_or(0),
        global: true,
    }
}

/// Discord's `404 Unknown Message` (10008).
fn unknown_message() -> Response {
    error(StatusCode::NOT_FOUND, 10008, "Unknown Message")
}

async fn get_channel(
    State(s): State<Arc<Shared>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("channel-get", &channel), |s| {
        let channel = match path_id(&channel) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match find_channel(&lock(&s.world), channel) {
            Some((_, c)) => ok(c),
            None => unknown_channel(),
        }
    })
}

/// A message object as REST returns it: the captured template with the given ids, author and
/// content (no `member` or `guild_id`, which only the gateway adds).
fn message_object(world: &World, gi: usize, m: &MessageRef, content: &str) -> Value {
    let mut d = world.templates.message.clone();
    if let Some(o) = d.as_object_mut() {
        o.remove("member");
        o.remove("guild_id");
        o.remove("nonce");
        o.remove("referenced_message");
    }
    let author = if m.author_id == world.bot_id {
        world.bot_user.clone()
    } else {
        world
            .guilds
            .get(gi)
            .and_then(|g| g.member(m.author_id))
            .and_then(|mem| mem.get("user"))
            .cloned()
            .unwrap_or_else(|| json!({"id": m.author_id.to_string()}))
    };
    d["author"] = author;
    d["id"] = json!(m.id.to_string());
    d["channel_id"] = json!(m.channel_id.to_string());
    d["content"] = json!(content);
    d["timestamp"] = json!(iso8601(world.now_unix_ms));
    d["edited_timestamp"] = Value::Null;
    d["mentions"] = json!([]);
    d["mention_roles"] = json!([]);
    d["attachments"] = json!([]);
    d["embeds"] = json!([]);
    d["pinned"] = json!(false);
    d["tts"] = json!(false);
    d
}

/// The gateway form of a message: REST's with `guild_id` and the author's `member`.
fn gateway_message(world: &World, gi: usize, message: &Value, author_id: u64) -> Value {
    let mut d = message.clone();
    if let Some(g) = world.guilds.get(gi) {
        d["guild_id"] = json!(g.id.to_string());
        if let Some(mut member) = g.member(author_id).cloned() {
            if let Some(o) = member.as_object_mut() {
                o.remove("user");
            }
            d["member"] = member;
        }
    }
    d
}

/// Content of a create or edit body: `content` must be a string of at most 2000 characters.
fn content_of(body: &Value) -> Result<Option<String>, Response> {
    match body.get("content") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) if c.chars().count() <= 2000 => Ok(Some(c.clone())),
        Some(Value::String(_)) => Err(invalid_form(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        )),
        Some(_) => Err(invalid_form(
            "content",
            "STRING_TYPE_CONVERT",
            "Could not interpret the value as string.",
        )),
    }
}

async fn create(
    State(s): State<Arc<Shared>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&s, &headers, key("message-create", &channel), |s| {
        let (channel, body) = match (path_id(&channel), json_body(&body)) {
            (Ok(c), Ok(b)) => (c, b),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let content = match content_of(&body) {
            Ok(c) => c.unwrap_or_default(),
            Err(r) => return r,
        };
        let empty = body
            .get("embeds")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if content.is_empty() && empty {
            return error(
                StatusCode::BAD_REQUEST,
                50006,
                "Cannot send an empty message",
            );
        }
        let mut world = lock(&s.world);
        let Some((gi, _)) = find_channel(&world, channel) else {
            return unknown_channel();
        };
        let m = MessageRef {
            id: world.new_id(),
            channel_id: channel,
            author_id: world.bot_id,
            reactions: Vec::new(),
        };
        let mut message = message_object(&world, gi, &m, &content);
        if let Some(embeds) = body.get("embeds") {
            message["embeds"] = embeds.clone();
        }
        let gateway = gateway_message(&world, gi, &message, m.author_id);
        let gid = world.guilds[gi].id;
        let g = &mut world.guilds[gi];
        g.messages.push_back(m.clone());
        if g.messages.len() > crate::world::MESSAGES_PER_GUILD_PUB {
            g.messages.pop_front();
        }
        drop(world);
        lock(&s.rest).messages.insert(m.id, message.clone());
        dispatch(s, gid, "MESSAGE_CREATE", &gateway);
        ok(message)
    })
}

/// The guild index and remembered message `message` of `channel`, or Discord's 404.
fn find_message(
    world: &World,
    channel: u64,
    message: u64,
) -> Result<(usize, MessageRef), Response> {
    let Some((gi, _)) = find_channel(world, channel) else {
        return Err(unknown_channel());
    };
    world.guilds[gi]
        .messages
        .iter()
        .find(|m| m.id == message && m.channel_id == channel)
        .map(|m| (gi, m.clone()))
        .ok_or_else(unknown_message)
}

async fn get_message(
    State(s): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("message-get", &channel), |s| {
        let (channel, message) = match (path_id(&channel), path_id(&message)) {
            (Ok(c), Ok(m)) => (c, m),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let world = lock(&s.world);
        let (gi, m) = match find_message(&world, channel, message) {
            Ok(found) => found,
            Err(r) => return r,
        };
        let stored = lock(&s.rest).messages.get(&message).cloned();
        ok(stored.unwrap_or_else(|| message_object(&world, gi, &m, "")))
    })
}

async fn edit(
    State(s): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&s, &headers, key("message-edit", &channel), |s| {
        let (channel, message, body) =
            match (path_id(&channel), path_id(&message), json_body(&body)) {
                (Ok(c), Ok(m), Ok(b)) => (c, m, b),
                (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
            };
        let content = match content_of(&body) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let world = lock(&s.world);
        let (gi, m) = match find_message(&world, channel, message) {
            Ok(found) => found,
            Err(r) => return r,
        };
        let mut rest = lock(&s.rest);
        let Some(stored) = rest.messages.get_mut(&message) else {
            return error(
                StatusCode::FORBIDDEN,
                50005,
                "Cannot edit a message authored by another user",
            );
        };
        if let Some(content) = content {
            stored["content"] = json!(content);
        }
        if let Some(embeds) = body.get("embeds") {
            stored["embeds"] = embeds.clone();
        }
        stored["edited_timestamp"] = json!(iso8601(world.now_unix_ms));
        let edited = stored.clone();
        drop(rest);
        let gateway = gateway_message(&world, gi, &edited, m.author_id);
        let gid = world.guilds[gi].id;
        drop(world);
        dispatch(s, gid, "MESSAGE_UPDATE", &gateway);
        ok(edited)
    })
}

async fn delete(
    State(s): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &headers, key("message-delete", &channel), |s| {
        let (channel, message) = match (path_id(&channel), path_id(&message)) {
            (Ok(c), Ok(m)) => (c, m),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let mut world = lock(&s.world);
        let (gi, _) = match find_message(&world, channel, message) {
            Ok(found) => found,
            Err(r) => return r,
        };
        let g = &mut world.guilds[gi];
        g.messages.retain(|m| m.id != message);
        let gid = g.id;
        drop(world);
        lock(&s.rest).messages.remove(&message);
        let d = json!({
            "id": message.to_string(),
            "channel_id": channel.to_string(),
            "guild_id": gid.to_string(),
        });
        dispatch(s, gid, "MESSAGE_DELETE", &d);
        no_content()
    })
}

async fn bulk_delete(
    State(s): State<Arc<Shared>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&s, &headers, key("message-bulk-delete", &channel), |s| {
        let (channel, body) = match (path_id(&channel), json_body(&body)) {
            (Ok(c), Ok(b)) => (c, b),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let ids: Option<Vec<u64>> = body
            .get("messages")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(crate::world::snowflake).collect());
        let Some(ids) = ids.filter(|ids| (2..=100).contains(&ids.len())) else {
            return invalid_form(
                "messages",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 2 and 100 in length.",
            );
        };
        let mut world = lock(&s.world);
        let Some((gi, _)) = find_channel(&world, channel) else {
            return unknown_channel();
        };
        let g = &mut world.guilds[gi];
        let deleted: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| {
                g.messages
                    .iter()
                    .any(|m| m.id == *id && m.channel_id == channel)
            })
            .collect();
        g.messages.retain(|m| !deleted.contains(&m.id));
        let gid = g.id;
        drop(world);
        let mut rest = lock(&s.rest);
        for id in &deleted {
            rest.messages.remove(id);
        }
        drop(rest);
        if !deleted.is_empty() {
            let d = json!({
                "ids": deleted.iter().map(u64::to_string).collect::<Vec<_>>(),
                "channel_id": channel.to_string(),
                "guild_id": gid.to_string(),
            });
            dispatch(s, gid, "MESSAGE_DELETE_BULK", &d);
        }
        no_content()
    })
}
