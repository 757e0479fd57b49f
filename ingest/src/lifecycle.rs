//! Shard lifecycle events on `<root>-lifecycle/<shard>/<EVENT>` (names in `topics.yaml`).
//!
//! Body: `{"node":"…","at_ms":1763719200123, …details}`. Published with guaranteed delivery in
//! the background, so a slow broker never delays the shard; a failed publish is a log line and
//! `ddiscord_ingest_lifecycle_publish_errors_total`.

use bytes::Bytes;
use ddiscord::Topics;
use ddiscord::mesh::{Delivery, Mesh};
use serde_json::{Map, Value};

/// The lifecycle events of `topics.yaml`, generated from the contract.
pub use ddiscord::contract::LifecycleEvent;

/// Publishes lifecycle events of one node.
#[derive(Clone)]
pub(crate) struct Lifecycle {
    mesh: Mesh,
    topics: Topics,
    node: String,
}

impl Lifecycle {
    pub(crate) fn new(mesh: Mesh, topics: Topics, node: String) -> Self {
        Self { mesh, topics, node }
    }

    /// Publishes `event` for `shard` with `details` (a JSON object's fields) in the background.
    pub(crate) fn publish(&self, shard: u32, event: LifecycleEvent, details: Value) {
        let topic = match self.topics.lifecycle(shard, event.name()) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "lifecycle topic is invalid"
                );
                return;
            }
        };
        let mut body = Map::new();
        body.insert("node".into(), Value::String(self.node.clone()));
        body.insert("at_ms".into(), Value::from(now_ms()));
        body.insert("shard".into(), Value::from(shard));
        if let Value::Object(d) = details {
            body.extend(d);
        }
        let payload = Bytes::from(Value::Object(body).to_string());
        let mesh = self.mesh.clone();
        tokio::spawn(async move {
            if let Err(e) = mesh.publish(&topic, payload, Delivery::Guaranteed).await {
                tracing::warn!(%topic, error = &e as &dyn std::error::Error, "lifecycle event not published");
                metrics::counter!("ddiscord_ingest_lifecycle_publish_errors_total").increment(1);
            }
        });
    }
}

/// Unix time in ms.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
