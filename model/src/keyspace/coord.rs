//! The Redis keys of coordination: leases, delivery counts, the recorded topology, the
//! registered consumer groups and the dead letters (`ddiscord-coord` reads and writes them).
//!
//! | key | type | contents |
//! |---|---|---|
//! | `{prefix}lease:{group}:nodes` | sorted set | live node ids, scored by heartbeat expiry (Redis server time, ms) |
//! | `{prefix}lease:{group}:{partition}` | hash, expires after the TTL | `owner` (node id), `token` (fencing token), `since_ms` |
//! | `{prefix}lease:{group}:{partition}:token` | string counter, never expires | the last fencing token handed out for the partition |
//! | `{prefix}deliveries:{group}:{shard}` | hash, expires 7 days after its last change | consumer group `group`'s failed deliveries per message (`{session}:{sequence}` → count), cleared by the ack |
//! | `{prefix}topology` | hash | what Discord's `GET /gateway/bot` said: shard count, `max_concurrency`, gateway URL (written by ingest) |
//! | `{prefix}groups` | hash | consumer group name → the pattern it consumes, so ingest creates its sessions |
//! | `{prefix}dead:{group}` | stream, `MAXLEN ~ 10000` | what group `group` gave up on (`ingest`: what the broker refused) |

/// Key of the live-node set of a group.
pub fn nodes_key(prefix: &str, group: &str) -> String {
    format!("{prefix}lease:{group}:nodes")
}

/// Key of the lease hash of a partition (the key a fence checks before a write).
pub fn lease_key(prefix: &str, group: &str, partition: u32) -> String {
    format!("{prefix}lease:{group}:{partition}")
}

/// Key of the fencing-token counter of a partition.
pub fn token_key(prefix: &str, group: &str, partition: u32) -> String {
    format!("{prefix}lease:{group}:{partition}:token")
}

/// Key of consumer group `group`'s failed-delivery counts of partition `shard`.
pub fn deliveries_key(prefix: &str, group: &str, shard: u32) -> String {
    format!("{prefix}deliveries:{group}:{shard}")
}

/// Key of the recorded gateway topology.
pub fn topology_key(prefix: &str) -> String {
    format!("{prefix}topology")
}

/// Key of the hash of registered consumer groups.
pub fn groups_key(prefix: &str) -> String {
    format!("{prefix}groups")
}

/// Key of the dead-letter stream of `group`.
pub fn dead_letters_key(prefix: &str, group: &str) -> String {
    format!("{prefix}dead:{group}")
}
