//! The Redis key layout of leases.
//!
//! | key | type | contents |
//! |---|---|---|
//! | `{prefix}lease:{group}:nodes` | sorted set | live node ids, scored by heartbeat expiry (Redis server time, ms) |
//! | `{prefix}lease:{group}:{partition}` | hash, expires after the TTL | `owner` (node id), `token` (fencing token), `since_ms` |
//! | `{prefix}lease:{group}:{partition}:token` | string counter, never expires | the last fencing token handed out for the partition |
//! | `{prefix}deliveries:{group}:{shard}` | hash, expires 7 days after its last change | consumer group `group`'s failed deliveries per message (`{session}:{sequence}` → count), cleared by the ack |

/// Key of the live-node set of a group.
pub fn nodes_key(prefix: &str, group: &str) -> String {
    format!("{prefix}lease:{group}:nodes")
}

/// Key of the lease hash of a partition (the key a [`super::Fence`] checks).
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
