//! The gateway websocket: HELLO, heartbeats, IDENTIFY, RESUME, dispatches and Discord's close
//! codes, as described in <https://discord.com/developers/docs/events/gateway>.

pub mod close;
mod commands;
pub mod compression;
mod connection;
pub mod identify;
pub(crate) mod members;
pub(crate) mod session;
mod updates;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use self::compression::Compression;
use self::connection::Connection;
use crate::state::Shared;

/// Largest payload a client may send, in bytes (Discord: 4096).
pub const MAX_CLIENT_PAYLOAD: usize = 4096;

/// `GET /` handler: the websocket upgrade (`?v=10&encoding=json&compress=...`).
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let Ok(ws) = ws else {
        return axum::Json(json!({
            "message": "DDiscord gateway simulator: open a websocket here with ?v=10&encoding=json",
            "url": shared.ws_url,
        }))
        .into_response();
    };
    let params = ConnParams {
        version_ok: q.get("v").map(String::as_str) == Some("10"),
        encoding_ok: q.get("encoding").is_none_or(|e| e == "json"),
        compression: Compression::from_query(q.get("compress").map(String::as_str)),
    };
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| async move {
            Connection::run(socket, shared, params).await;
        })
        .into_response()
}

/// What the connection URL's query asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnParams {
    /// `v=10`.
    pub version_ok: bool,
    /// `encoding=json` (or absent).
    pub encoding_ok: bool,
    /// `compress=...`.
    pub compression: Compression,
}
