//! What every shard of a node shares: configuration, connections and coordination.

use std::sync::Arc;

use ddiscord::Topics;
use ddiscord::mesh::Mesh;
use redis::aio::ConnectionManager;

use crate::config::IngestConfig;
use crate::groups::GroupSessions;
use crate::identify::RedisQueue;
use crate::lifecycle::Lifecycle;
use crate::session::SessionStore;

/// What every shard of a node shares.
pub(crate) struct ShardCtx {
    pub config: Arc<IngestConfig>,
    pub shard_count: u32,
    pub mesh: Mesh,
    pub topics: Topics,
    pub sessions: SessionStore,
    pub queue: RedisQueue,
    pub lifecycle: Lifecycle,
    /// Redis, for dead letters.
    pub redis: ConnectionManager,
    /// The durable sessions of the registered consumer groups.
    pub groups: GroupSessions,
}
