//! `ddiscord-ops`: what every DDiscord process (`ddiscord ingest`, `ddiscord state-worker`,
//! `ddiscord up`) serves its operator on one HTTP listener:
//!
//! | path | answer |
//! |---|---|
//! | `/healthz` | 200 `ok` while the process serves (the liveness probe) |
//! | `/readyz` | 200 `ready` when the process's readiness check passes, else 503 with the reason (the readiness probe) |
//! | `/metrics` | the process's metrics in the Prometheus text format |
//!
//! The probes follow Kubernetes' conventions
//! (<https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/>);
//! `k8s/` points both probes and the scrape annotations here.

mod recorder;
mod server;

pub use recorder::prometheus;
pub use server::{BindError, HttpServer, NotReady, serve};
