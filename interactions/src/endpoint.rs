//! The HTTP side: `POST /interactions`, as Discord calls it
//! (<https://discord.com/developers/docs/interactions/receiving-and-responding#receiving-an-interaction>).
//!
//! For each request: verify the signature ([`crate::verify`]); answer a PING with PONG;
//! otherwise subscribe to `<root>-interaction-reply/<id>`, publish the interaction as an
//! INTERACTION_CREATE envelope on `<root>/<shard>/<guild>/INTERACTION_CREATE` (guaranteed),
//! and answer with the first valid reply that arrives before the deadline, or with a deferral
//! ([`crate::response::deferred`]) when none does. Subscribing before publishing means a reply
//! cannot overtake the subscription; each replica subscribes only to the interactions it
//! holds, so replies reach the replica whose request is waiting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ddiscord_mesh::{Delivery, Mesh, MeshConfig};
use ddiscord_model::envelope::{EnvelopeMeta, wrap};
use ddiscord_model::shard_for_guild;
use ddiscord_model::snowflake::parse_snowflake;
use ddiscord_model::topic::{TopicPattern, Topics};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::InteractionsConfig;
use crate::error::{InteractionsError, InteractionsErrorKind};
use crate::response::{self, InteractionHead};
use crate::verify::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier};

/// The dispatch name interactions are published under, as the gateway names them
/// (<https://discord.com/developers/docs/events/gateway-events#interaction-create>).
pub const EVENT: &str = "INTERACTION_CREATE";

/// The path Discord POSTs to (the Interactions Endpoint URL ends with it).
pub const PATH: &str = "/interactions";

struct Shared {
    verifier: Verifier,
    mesh: Mesh,
    topics: Topics,
    shards: u32,
    deadline: Duration,
}

/// The running endpoint (see [`Endpoint::start`]).
#[derive(Debug)]
pub struct Endpoint;

/// A running endpoint: its address, and a graceful stop.
pub struct EndpointHandle {
    addr: SocketAddr,
    ops: Option<ddiscord_ops::HttpServer>,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    mesh: Mesh,
}

impl std::fmt::Debug for EndpointHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Connects to the mesh, binds `config.listen` and serves `POST /interactions` (and, with
    /// `config.http_addr`, `/healthz`, `/readyz` and `/metrics`).
    ///
    /// # Errors
    /// [`InteractionsErrorKind::Config`] for an invalid public key, topic root or setting,
    /// [`InteractionsErrorKind::Mesh`] when the mesh cannot be reached,
    /// [`InteractionsErrorKind::Bind`] / [`InteractionsErrorKind::Http`] when an address
    /// cannot be bound.
    pub async fn start(config: InteractionsConfig) -> Result<EndpointHandle, InteractionsError> {
        config.validate()?;
        let verifier = Verifier::new(&config.public_key, config.max_age)
            .map_err(|e| InteractionsError::config(format!("DISCORD_PUBLIC_KEY: {e}")))?;
        let topics = Topics::new(&config.topic_root)
            .map_err(|e| InteractionsError::config(format!("DDISCORD_TOPIC_ROOT: {e}")))?;
        let mesh_config = MeshConfig::new(config.mesh_url.clone())
            .with_security_from_env()
            .map_err(|e| InteractionsError::with_source(InteractionsErrorKind::Mesh, e))?;
        let mesh = Mesh::connect(mesh_config)
            .await
            .map_err(|e| InteractionsError::with_source(InteractionsErrorKind::Mesh, e))?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| {
                InteractionsError::with_source(
                    InteractionsErrorKind::Bind {
                        addr: config.listen,
                    },
                    e,
                )
            })?;
        let addr = listener.local_addr().map_err(|e| {
            InteractionsError::with_source(
                InteractionsErrorKind::Bind {
                    addr: config.listen,
                },
                e,
            )
        })?;
        let (stop, stopped) = watch::channel(false);
        let ops = match config.http_addr {
            Some(http_addr) => {
                let probe = mesh.clone();
                let ready = move || {
                    let connected = probe.is_connected();
                    async move {
                        if connected {
                            Ok(())
                        } else {
                            Err("interactions: event mesh disconnected (reconnecting)".into())
                        }
                    }
                };
                Some(ddiscord_ops::serve(http_addr, ready, wait_stop(stopped.clone())).await?)
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            verifier,
            mesh: mesh.clone(),
            topics,
            shards: config.shards,
            deadline: config.deadline,
        });
        let app = router(shared);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(wait_stop(stopped))
                .await
        });
        tracing::info!(%addr, deadline_ms = config.deadline.as_millis() as u64, "serving POST /interactions");
        Ok(EndpointHandle {
            addr,
            ops,
            stop,
            task,
            mesh,
        })
    }
}

async fn wait_stop(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

impl EndpointHandle {
    /// The bound address of `POST /interactions` (the actual port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound address of `/healthz`, `/readyz` and `/metrics`, if served.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().map(ddiscord_ops::HttpServer::local_addr)
    }

    /// Waits until the listener ends on its own (it does only on an I/O error).
    ///
    /// # Errors
    /// [`InteractionsErrorKind::Task`] when the listener failed.
    pub async fn finished(&mut self) -> Result<(), InteractionsError> {
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(InteractionsError::with_source(
                InteractionsErrorKind::Task,
                e,
            )),
            Err(e) => Err(InteractionsError::with_source(
                InteractionsErrorKind::Task,
                e,
            )),
        }
    }

    /// Stops gracefully: no new connections; requests in hand are answered (each within its
    /// deadline), then the mesh is closed.
    ///
    /// # Errors
    /// [`InteractionsErrorKind::Task`] when the listener failed.
    pub async fn shutdown(self) -> Result<(), InteractionsError> {
        let _ = self.stop.send(true);
        let result = match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(InteractionsError::with_source(
                InteractionsErrorKind::Task,
                e,
            )),
            Err(e) => Err(InteractionsError::with_source(
                InteractionsErrorKind::Task,
                e,
            )),
        };
        if let Some(ops) = self.ops {
            ops.stopped().await;
        }
        self.mesh.close().await;
        result
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(PATH, post(interaction))
        .with_state(shared)
}

fn json(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn refuse(status: StatusCode, outcome: &'static str, why: String) -> Response {
    metrics::counter!("ddiscord_interactions_requests_total", "outcome" => outcome).increment(1);
    (status, why).into_response()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

async fn interaction(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let received = tokio::time::Instant::now();
    if let Err(e) = s.verifier.verify(
        headers.get(SIGNATURE_HEADER).map(HeaderValue::as_bytes),
        headers.get(TIMESTAMP_HEADER).map(HeaderValue::as_bytes),
        &body,
        verify::now_secs(),
    ) {
        tracing::debug!(error = %e, "interaction refused");
        return refuse(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string());
    }
    let head: InteractionHead<'_> = match serde_json::from_slice(&body) {
        Ok(h) => h,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("not an interaction object: {e}"),
            );
        }
    };
    if head.kind == response::PING {
        metrics::counter!("ddiscord_interactions_requests_total", "outcome" => "pong").increment(1);
        return json(StatusCode::OK, response::PONG);
    }
    let parsed = head
        .id
        .as_deref()
        .ok_or_else(|| "the interaction has no id".to_owned())
        .and_then(|id| parse_snowflake("id", id).map_err(|e| e.to_string()))
        .and_then(|id| {
            head.guild_id
                .as_deref()
                .map(|g| parse_snowflake("guild_id", g).map_err(|e| e.to_string()))
                .transpose()
                .map(|g| (id, g))
        });
    let (id, guild) = match parsed {
        Ok(v) => v,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, "bad_request", why),
    };
    let deadline = received + s.deadline;
    match relay(&s, &body, id, guild, deadline).await {
        Ok(Some(reply)) => {
            metrics::counter!("ddiscord_interactions_requests_total", "outcome" => "replied")
                .increment(1);
            metrics::histogram!("ddiscord_interactions_reply_seconds")
                .record(received.elapsed().as_secs_f64());
            json(StatusCode::OK, reply)
        }
        Ok(None) => {
            metrics::counter!("ddiscord_interactions_requests_total", "outcome" => "deferred")
                .increment(1);
            json(StatusCode::OK, response::deferred(head.kind))
        }
        Err(why) => {
            tracing::warn!(interaction = id, error = %why, "interaction not published");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why)
        }
    }
}

/// Subscribes to the interaction's reply topic, publishes it, and waits until `deadline` for
/// a valid reply: `Ok(Some(reply))`, `Ok(None)` when none came, `Err` when the mesh failed or
/// did not take the interaction before the deadline.
async fn relay(
    s: &Shared,
    body: &Bytes,
    id: u64,
    guild: Option<u64>,
    deadline: tokio::time::Instant,
) -> Result<Option<Bytes>, String> {
    let mut replies = tokio::time::timeout_at(deadline, publish(s, body, id, guild))
        .await
        .map_err(|_| "the event mesh did not take the interaction in time".to_owned())??;
    loop {
        match tokio::time::timeout_at(deadline, replies.recv()).await {
            Err(_) => return Ok(None),
            Ok(None) => return Err("the mesh connection closed".to_owned()),
            Ok(Some(m)) if response::is_response(&m.payload) => return Ok(Some(m.payload)),
            Ok(Some(m)) => {
                tracing::warn!(
                    interaction = id,
                    bytes = m.payload.len(),
                    "a reply that is not an interaction response (a JSON object with a numeric `type`) was ignored"
                );
                metrics::counter!("ddiscord_interactions_invalid_replies_total").increment(1);
            }
        }
    }
}

/// Subscribes to the reply topic of interaction `id`, then publishes the interaction; returns
/// the subscription.
async fn publish(
    s: &Shared,
    body: &Bytes,
    id: u64,
    guild: Option<u64>,
) -> Result<ddiscord_mesh::Subscription, String> {
    let reply_topic = s.topics.interaction_reply(id).map_err(|e| e.to_string())?;
    let pattern = TopicPattern::new(reply_topic.as_str()).map_err(|e| e.to_string())?;
    let replies = s
        .mesh
        .subscribe(&pattern)
        .await
        .map_err(|e| format!("subscribing to {reply_topic}: {e}"))?;
    let shard = guild.map_or(0, |g| shard_for_guild(g, s.shards));
    let topic = s
        .topics
        .dispatch(shard, guild, EVENT)
        .map_err(|e| e.to_string())?;
    // The gateway frame the interaction would have come in, with the body as `d`, untouched.
    let mut frame = Vec::with_capacity(body.len() + 48);
    frame.extend_from_slice(br#"{"op":0,"t":"INTERACTION_CREATE","s":null,"d":"#);
    frame.extend_from_slice(body);
    frame.push(b'}');
    let meta = EnvelopeMeta {
        shard,
        session: None,
        received_ms: now_ms(),
    };
    let envelope = wrap(&meta, &frame).map_err(|e| e.to_string())?;
    s.mesh
        .publish(&topic, envelope, Delivery::Guaranteed)
        .await
        .map_err(|e| format!("publishing on {topic}: {e}"))?;
    Ok(replies)
}
