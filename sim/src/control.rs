//! The HTTP side: the REST routes under `/api/v10` ([`crate::rest`]) and the `/control` API
//! that tests and people use to break connections on purpose.
//!
//! | method and path | effect |
//! |---|---|
//! | `POST /control/reconnect?shard=N` | op 7 RECONNECT to shard N's connections |
//! | (any of the five above with `?session=ID` instead of `shard`) | target one session |
//! | `POST /control/invalidate?shard=N&resumable=true` | op 9 INVALID_SESSION |
//! | `POST /control/drop?shard=N` | TCP drop without a close frame |
//! | `POST /control/zombie?shard=N` | stop sending (heartbeat ACKs included) |
//! | `POST /control/heartbeat?shard=N` | op 1 HEARTBEAT (asks for an immediate heartbeat) |
//! | `POST /control/rate?events_per_sec=R` | change the generated rate |
//! | `POST /control/advance?ms=N` | advance the simulated clock |
//! | `POST /control/dispatch?shard=N&event=NAME` (body: `d` as JSON) | send one dispatch |
//! | `GET /control/record` | the [`RecordSnapshot`] as JSON |
//! | `GET /control/stats` | the record without the dispatch list |
//! | `GET /control/rest` | what the REST routes served and refused ([`crate::RestCounts`]) |
//! | `GET /control/frames` | JSONL: every recorded first send as the envelope ingest publishes (`--record-frames`) |
//! | `GET /control/interactions/public-key`, `POST /control/interaction` | HTTP interactions, signed and sent to the bot's endpoint ([`crate::interactions`]) |

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::record::RecordSnapshot;
use crate::state::{ConnCommand, Shared, lock};

/// Builds the full router: gateway websocket at `/`, REST at `/api/v10` ([`crate::rest`]),
/// control at `/control`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(crate::gateway::upgrade))
        .route("/control/reconnect", post(reconnect))
        .route("/control/invalidate", post(invalidate))
        .route("/control/drop", post(drop_tcp))
        .route("/control/zombie", post(zombie))
        .route("/control/heartbeat", post(heartbeat))
        .route("/control/rate", post(rate))
        .route("/control/advance", post(advance))
        .route("/control/dispatch", post(dispatch))
        .route("/control/record", get(record))
        .route("/control/stats", get(stats))
        .route("/control/frames", get(frames))
        .route("/control/rest", get(rest_counts))
        .merge(crate::rest::routes())
        .merge(crate::interactions::routes())
        .with_state(shared)
}

/// A snapshot of the record and counters.
pub(crate) fn snapshot(shared: &Shared, with_dispatches: bool) -> RecordSnapshot {
    let (dispatches, dropped) = if with_dispatches {
        shared.record.snapshot()
    } else {
        (Vec::new(), shared.record.snapshot().1)
    };
    RecordSnapshot {
        dispatches,
        dropped,
        connections: lock(&shared.connections).clone(),
        shards: shared
            .shards
            .iter()
            .map(|s| lock(&s.counts).clone())
            .collect(),
        events_sent: shared.events_sent.load(Ordering::Relaxed),
        bytes_sent: shared.bytes_sent.load(Ordering::Relaxed),
        generated: shared.generated.load(Ordering::Relaxed),
        shed: shared.shed.load(Ordering::Relaxed),
    }
}

#[derive(Debug, Deserialize)]
struct ShardQuery {
    #[serde(default)]
    shard: Option<u32>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    resumable: Option<bool>,
}

fn command(s: &Shared, q: &ShardQuery, cmd: ConnCommand) -> Response {
    let shard = match (q.shard, &q.session) {
        (_, Some(session)) => {
            let reached = s.command_session(session, cmd);
            return Json(json!({"session": session, "connections": reached})).into_response();
        }
        (Some(shard), None) => shard,
        (None, None) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "give ?shard=N or ?session=ID"})),
            )
                .into_response();
        }
    };
    if shard >= s.cfg.shards {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("shard {shard} does not exist; shards are 0..{}", s.cfg.shards)})),
        )
            .into_response();
    }
    let reached = s.command_shard(shard, cmd);
    Json(json!({"shard": shard, "connections": reached})).into_response()
}

async fn reconnect(State(s): State<Arc<Shared>>, Query(q): Query<ShardQuery>) -> Response {
    command(&s, &q, ConnCommand::Reconnect)
}

async fn invalidate(State(s): State<Arc<Shared>>, Query(q): Query<ShardQuery>) -> Response {
    let resumable = q.resumable.unwrap_or(false);
    command(&s, &q, ConnCommand::Invalidate { resumable })
}

async fn drop_tcp(State(s): State<Arc<Shared>>, Query(q): Query<ShardQuery>) -> Response {
    command(&s, &q, ConnCommand::Drop)
}

async fn zombie(State(s): State<Arc<Shared>>, Query(q): Query<ShardQuery>) -> Response {
    command(&s, &q, ConnCommand::Zombie)
}

async fn heartbeat(State(s): State<Arc<Shared>>, Query(q): Query<ShardQuery>) -> Response {
    command(&s, &q, ConnCommand::RequestHeartbeat)
}

#[derive(Debug, Deserialize)]
struct RateQuery {
    events_per_sec: f64,
}

async fn rate(State(s): State<Arc<Shared>>, Query(q): Query<RateQuery>) -> Response {
    if !(q.events_per_sec.is_finite() && q.events_per_sec >= 0.0) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "events_per_sec must be a finite number >= 0"})),
        )
            .into_response();
    }
    s.rate_bits
        .store(q.events_per_sec.to_bits(), Ordering::Relaxed);
    Json(json!({"events_per_sec": q.events_per_sec})).into_response()
}

#[derive(Debug, Deserialize)]
struct AdvanceQuery {
    ms: u64,
}

async fn advance(State(s): State<Arc<Shared>>, Query(q): Query<AdvanceQuery>) -> Response {
    s.clock.advance(Duration::from_millis(q.ms));
    Json(json!({"now_ms": s.clock.now_ms()})).into_response()
}

#[derive(Debug, Deserialize)]
struct DispatchQuery {
    shard: u32,
    event: String,
}

async fn dispatch(
    State(s): State<Arc<Shared>>,
    Query(q): Query<DispatchQuery>,
    body: String,
) -> Response {
    let Ok(d) = serde_json::from_str::<serde_json::Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "the body must be the dispatch's d as JSON"})),
        )
            .into_response();
    };
    let guild_id = crate::replay::guild_of(&q.event, &d);
    let seq = s.push_to_shard(q.shard, &q.event, guild_id, &d.to_string());
    Json(json!({"shard": q.shard, "seq": seq})).into_response()
}

async fn rest_counts(State(s): State<Arc<Shared>>) -> Response {
    Json(lock(&s.rest).limits.counts).into_response()
}

async fn record(State(s): State<Arc<Shared>>) -> Response {
    Json(snapshot(&s, true)).into_response()
}

async fn stats(State(s): State<Arc<Shared>>) -> Response {
    Json(snapshot(&s, false)).into_response()
}

/// The first recorded send of every (session, seq), one envelope per line (`{"shard":..,"session":..,"received_ms":0,`
/// then the frame as sent), in record order: the stream a lossless pipeline delivers.
async fn frames(State(s): State<Arc<Shared>>) -> Response {
    if !s.record.keeps_frames() {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "frames are not kept; start the simulator with --record-frames"})),
        )
            .into_response();
    }
    let mut body = Vec::new();
    for (sent, frame) in s.record.frames() {
        let meta = ddiscord_model::envelope::EnvelopeMeta {
            shard: sent.shard,
            session: Some(&sent.session_id),
            received_ms: 0,
        };
        match ddiscord_model::envelope::wrap(&meta, frame.as_str().as_bytes()) {
            Ok(env) => {
                body.extend_from_slice(&env);
                body.push(b'\n');
            }
            Err(e) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(
                        json!({"error": format!("frame {} of {}: {e}", sent.seq, sent.session_id)}),
                    ),
                )
                    .into_response();
            }
        }
    }
    ([("content-type", "application/x-ndjson")], body).into_response()
}
