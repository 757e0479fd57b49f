//! `/healthz`, `/readyz` and `/metrics` (axum).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::error::{IngestError, IngestErrorKind};
use crate::node::NodeStatus;

#[derive(Clone)]
struct AppState {
    status: Arc<NodeStatus>,
    prometheus: Option<PrometheusHandle>,
}

/// The router: `/healthz` (200 while the process runs), `/readyz` (200 when connected and no
/// shard failed for good, else 503), `/metrics` (Prometheus text format).
pub fn router(status: Arc<NodeStatus>, prometheus: Option<PrometheusHandle>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(s): State<AppState>| async move {
                if s.status.is_ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(s): State<AppState>| async move {
                s.prometheus
                    .as_ref()
                    .map(PrometheusHandle::render)
                    .unwrap_or_default()
            }),
        )
        .with_state(AppState { status, prometheus })
}

/// Binds `addr` and serves [`router`] until `shutdown` resolves.
///
/// # Errors
/// [`IngestErrorKind::Http`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    status: Arc<NodeStatus>,
    prometheus: Option<PrometheusHandle>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, IngestError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| IngestError::with_source(IngestErrorKind::Http, e))?;
    tracing::info!(%addr, "serving /healthz, /readyz, /metrics");
    let app = router(status, prometheus);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "HTTP server failed");
        }
    }))
}
