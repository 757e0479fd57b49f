//! Configuration of a lease claimer.

use std::time::Duration;

use super::error::{CoordError, CoordErrorKind};

/// Default Redis key prefix shared by every DDiscord key.
pub const DEFAULT_KEY_PREFIX: &str = ddiscord_model::defaults::KEY_PREFIX;

/// Default lease time to live.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// How a [`super::Leases`] claimer takes part in a group.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Redis key prefix shared by all DDiscord keys (default `"dd:"`).
    pub key_prefix: String,
    /// The group that shares the partitions: `"ingest"` for shards, `"group:<name>"` for a
    /// consumer group.
    pub group: String,
    /// Number of partitions (the shard count). Partitions are `0..partitions`.
    pub partitions: u32,
    /// Unique per process; [`default_node_id`] gives `hostname-pid-random`.
    pub node_id: String,
    /// Lease time to live (default 10 s). A node that does not renew within it loses its leases.
    pub ttl: Duration,
    /// How often leases are renewed and free partitions claimed (default `ttl / 3`).
    pub renew_interval: Duration,
    /// Hand surplus leases over instead of dropping them (default `false`): when a node joins,
    /// a lease this node holds above its fair share is kept and renewed, and
    /// [`LeaseEvent::Surplus`](super::LeaseEvent::Surplus) asks the owner to stop its work
    /// cleanly and then [`release`](super::Leases::release) it. A lease not released within
    /// [`HANDOVER_TIMEOUT`] is released anyway. With `false` the surplus is released in the
    /// round that finds it ([`LeaseEvent::Released`](super::LeaseEvent::Released)).
    pub handover: bool,
}

/// How long a node asked to hand a lease over ([`LeaseConfig::handover`]) may take before the
/// claimer releases it anyway: 15 s.
pub const HANDOVER_TIMEOUT: Duration = Duration::from_secs(15);

impl LeaseConfig {
    /// A configuration with the defaults: prefix `dd:`, a fresh node id, TTL 10 s, renewal every
    /// 3.3 s.
    pub fn new(group: impl Into<String>, partitions: u32) -> Self {
        Self {
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            group: group.into(),
            partitions,
            node_id: default_node_id(),
            ttl: DEFAULT_TTL,
            renew_interval: DEFAULT_TTL / 3,
            handover: false,
        }
    }

    /// Sets [`handover`](Self::handover).
    #[must_use]
    pub fn with_handover(mut self, handover: bool) -> Self {
        self.handover = handover;
        self
    }

    /// Sets the TTL and a renew interval of a third of it.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self.renew_interval = ttl / 3;
        self
    }

    /// Checks that the values can work.
    ///
    /// # Errors
    /// [`CoordErrorKind::InvalidConfig`] with the reason.
    pub fn validate(&self) -> Result<(), CoordError> {
        let reason = if self.partitions == 0 {
            "partitions must be at least 1"
        } else if self.ttl < Duration::from_millis(100) {
            "ttl must be at least 100 ms"
        } else if self.renew_interval.is_zero() || self.renew_interval >= self.ttl {
            "renew_interval must be above zero and below ttl (ttl / 3 is a good value)"
        } else if self.node_id.is_empty() {
            "node_id must not be empty"
        } else if self.group.is_empty() {
            "group must not be empty"
        } else {
            return Ok(());
        };
        Err(CoordError::new(CoordErrorKind::InvalidConfig {
            reason: reason.to_owned(),
        }))
    }
}

/// `hostname-pid-random`, unique per process.
pub fn default_node_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "node".to_owned());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}
