//! `ddiscord ingest`: a node with its HTTP endpoints, until SIGTERM or Ctrl-C.

use crate::config::{IngestArgs, IngestConfig};
use crate::error::IngestError;
use crate::http;
use crate::node::IngestNode;

/// Runs an ingest node until SIGTERM (or Ctrl-C), then shuts it down gracefully: shards drain,
/// persist their sessions and close with 4000, and the leases are released, so a rolling
/// restart costs no IDENTIFY.
///
/// Installs the Prometheus recorder if none is installed yet. Logging is the caller's (the
/// `ddiscord` binary sets up `tracing-subscriber`).
///
/// # Errors
/// [`IngestError`] when the node cannot start or the HTTP address cannot be bound.
pub async fn run(args: IngestArgs) -> Result<(), IngestError> {
    let http_addr = args.http_addr;
    let config = IngestConfig::from(args);
    let prometheus = match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()
    {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!(error = %e, "Prometheus recorder not installed (another is); /metrics is empty");
            None
        }
    };
    let node = IngestNode::start(config).await?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = http::serve(http_addr, node.status(), prometheus, async move {
        let _ = http_stopped.await;
    })
    .await?;
    wait_for_signal().await;
    tracing::info!("shutting down: draining shards, persisting sessions, closing with 4000");
    let result = node.shutdown().await;
    let _ = stop_http.send(());
    let _ = server.await;
    result
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the node");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
