//! `ddiscord ingest`: a node with its HTTP endpoints, until SIGTERM or Ctrl-C.

use crate::config::{IngestArgs, IngestConfig};
use crate::error::IngestError;
use crate::node::IngestNode;

/// Runs an ingest node until SIGTERM (or Ctrl-C), then shuts it down gracefully: shards drain,
/// persist their sessions and close with 4000, and the leases are released, so a rolling
/// restart costs no IDENTIFY.
///
/// Serves `/healthz`, `/readyz` and `/metrics` (`ddiscord-ops`) on `args.http_addr`, with the
/// process-wide Prometheus recorder. Logging is the caller's (the `ddiscord` binary sets up
/// `tracing-subscriber`).
///
/// # Errors
/// [`IngestError`] when the node cannot start or the HTTP address cannot be bound.
pub async fn run(args: IngestArgs) -> Result<(), IngestError> {
    let http_addr = args.http_addr;
    let config = IngestConfig::from(args);
    // Installed before the node starts, so that nothing it counts is lost.
    let _ = ddiscord_ops::prometheus();
    let node = IngestNode::start(config).await?;
    let status = node.status();
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = ddiscord_ops::serve(
        http_addr,
        move || std::future::ready(status.check()),
        async move {
            let _ = http_stopped.await;
        },
    )
    .await?;
    wait_for_signal().await;
    tracing::info!("shutting down: draining shards, persisting sessions, closing with 4000");
    let result = node.shutdown().await;
    let _ = stop_http.send(());
    server.stopped().await;
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
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "cannot listen for SIGTERM; only Ctrl-C stops the node"
                );
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
