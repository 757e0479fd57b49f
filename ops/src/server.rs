//! The listener: `/healthz`, `/readyz`, `/metrics` (axum).

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::recorder::prometheus;

/// Why the process is not ready: the body of the 503 answer of `/readyz`, for the operator
/// (e.g. `"redis unreachable"`).
pub type NotReady = Cow<'static, str>;

/// The address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {addr} for /healthz, /readyz and /metrics; choose a free address with DDISCORD_HTTP_ADDR: {source}"
)]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// Why binding failed.
    #[source]
    pub source: std::io::Error,
}

/// A running listener (see [`serve`]).
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// The bound address (the actual port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the listener has stopped (after the `shutdown` future given to [`serve`]
    /// resolved and open requests finished).
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the health and metrics listener ended abnormally");
        }
    }
}

/// Binds `addr` and serves `/healthz`, `/readyz` and `/metrics` until `shutdown` resolves.
///
/// `ready` is called on every `/readyz` request: `Ok(())` answers 200 `ready`, `Err(why)`
/// answers 503 with `why`. `/metrics` renders [`prometheus`] (503 when another recorder was
/// installed first).
///
/// # Errors
/// [`BindError`] when the address cannot be bound (in use, or not an address of this host).
pub async fn serve<R, F>(
    addr: SocketAddr,
    ready: R,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<HttpServer, BindError>
where
    R: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<(), NotReady>> + Send + 'static,
{
    // Installed before the first scrape, so that the first answer is not a 503.
    let _ = prometheus();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| BindError { addr, source })?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let check = ready();
                async move {
                    match check.await {
                        Ok(()) => (StatusCode::OK, Cow::Borrowed("ready")),
                        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
                    }
                }
            }),
        )
        .route("/metrics", get(metrics_text));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "the health and metrics listener failed");
        }
    });
    tracing::info!(addr = %bound, "serving /healthz, /readyz and /metrics");
    Ok(HttpServer { addr: bound, task })
}

async fn metrics_text() -> (StatusCode, String) {
    match prometheus() {
        Some(h) => (StatusCode::OK, h.render()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are exported by the embedding program's recorder".to_owned(),
        ),
    }
}
