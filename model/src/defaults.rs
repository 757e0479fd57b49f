//! The defaults every component and SDK shares, each defined once.

/// Prefix of every Redis key DDiscord writes (cache, leases, sessions, topology, groups, dead
/// letters): `DDISCORD_KEY_PREFIX`. Two bots sharing one Redis use two prefixes.
pub const KEY_PREFIX: &str = "dd:";

/// Redis the components and SDKs use when `DDISCORD_REDIS_URL` is unset.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Event mesh the SDKs and the CLI's tools (`tail`, `publish`, `dead replay`) connect to when
/// `DDISCORD_MESH_URL` is unset: a broker on this machine's standard MQTT port. A script
/// never starts a broker of its own.
pub const MESH_URL: &str = "mqtt://127.0.0.1:1883";

/// Event mesh of the long-running components (`ingest`, `state-worker`) when
/// `DDISCORD_MESH_URL` is unset: an in-process broker on the standard MQTT port (or attached to
/// the one already there), for a single machine. Deployments set `DDISCORD_MESH_URL`.
pub const EMBEDDED_MESH_URL: &str = "embedded://127.0.0.1:1883";
