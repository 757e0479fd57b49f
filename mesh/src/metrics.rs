//! Names of the mesh's Prometheus metrics (recorded through the `metrics` facade; the process
//! installs the exporter).

/// Counter: messages handed to the broker, label `delivery` = `direct` | `guaranteed`.
pub const PUBLISHED: &str = "ddiscord_mesh_published_total";
/// Counter: messages received from the broker, label `kind` = `subscription` | `durable`.
pub const RECEIVED: &str = "ddiscord_mesh_received_total";
/// Counter: messages dropped because a subscription's buffer was full, label `pattern`.
pub const SLOW_CONSUMER_DROPPED: &str = "ddiscord_mesh_slow_consumer_dropped_total";
/// Counter: connections lost (and retried), label `connection` = `main` | `durable`.
pub const RECONNECTS: &str = "ddiscord_mesh_reconnects_total";
/// Counter: failed connection attempts (broker down or unreachable), label `connection`.
pub const CONNECT_FAILURES: &str = "ddiscord_mesh_connect_failures_total";
/// Counter: publishes sent again after a reconnect because the broker had not acknowledged them.
pub const REPLAYED: &str = "ddiscord_mesh_publish_replayed_total";
/// Counter: publishes that failed (refused by the broker, or lost in too many reconnects).
pub const PUBLISH_FAILED: &str = "ddiscord_mesh_publish_failed_total";
/// Counter: received messages that were skipped: topic not UTF-8, or outside the durable
/// subscription's patterns (a wider MQTT filter), label `reason`.
pub const SKIPPED: &str = "ddiscord_mesh_skipped_total";
