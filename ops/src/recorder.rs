//! The process-wide Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder, installed as the global `metrics` recorder on the
/// first call; every later call returns the same handle.
///
/// Call it before the components start, so that nothing they count is lost. `None` when
/// another global recorder was installed first (by an embedding program); `/metrics` then
/// answers 503, and that program exports the metrics.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics answers 503");
                    None
                }
            }
        })
        .as_ref()
}
