//! `/healthz` (the process runs), `/readyz` (Redis answers and the group is joined) and
//! `/metrics` (Prometheus text format).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::WorkerError;

/// The process-wide Prometheus recorder (installed on first use; `None` when another recorder
/// was installed first, e.g. by the embedding binary).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .as_ref()
}

#[derive(Clone)]
struct Health {
    ready: Arc<AtomicBool>,
    redis: redis::aio::ConnectionManager,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(h): State<Health>) -> (StatusCode, &'static str) {
    if !h.ready.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "joining the consumer group",
        );
    }
    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut h.redis.clone()).await;
    match pong {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "redis unreachable"),
    }
}

async fn metrics_text() -> (StatusCode, String) {
    match prometheus() {
        Some(h) => (StatusCode::OK, h.render()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are exported by the embedding process's recorder".to_owned(),
        ),
    }
}

/// Serves health and metrics on `addr` until `stop` turns true; returns the bound address.
///
/// # Errors
/// [`WorkerError::Http`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    ready: Arc<AtomicBool>,
    redis: redis::aio::ConnectionManager,
    mut stop: watch::Receiver<bool>,
) -> Result<SocketAddr, WorkerError> {
    let _ = prometheus();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| WorkerError::Http { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| WorkerError::Http { addr, source })?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Health { ready, redis });
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "health and metrics server failed");
        }
    });
    tracing::info!(addr = %bound, "serving /healthz, /readyz and /metrics");
    Ok(bound)
}
