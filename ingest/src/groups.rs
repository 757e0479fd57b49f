//! The durable sessions of the registered consumer groups, created before a shard publishes.
//!
//! A broker keeps QoS 1 messages only for sessions it knows (MQTT 5 §4.1,
//! <https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html#_Toc3901230>), so before a
//! shard reads the gateway, ingest creates the session of every group in the registry
//! ([`ddiscord::coord::GroupRegistry`]) for that shard: the name and pattern a member of the
//! group opens ([`GroupConfig::session_name`], [`GroupConfig::partition_pattern`]), connected
//! once and closed. Which (group, shard) sessions exist is remembered for the life of the
//! process, so reconnects and lease moves within it do not open them again; the registry is read
//! again every few seconds and groups registered later get their sessions from then on.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use ddiscord::coord::GroupRegistry;
use ddiscord::group::{DurableSource as _, GroupConfig};
use ddiscord::mesh::Mesh;
use ddiscord::topic::TopicPattern;
use redis::aio::ConnectionManager;

use crate::error::{IngestError, IngestErrorKind};

/// Creates and remembers the durable sessions of the registered groups.
pub(crate) struct GroupSessions {
    redis: ConnectionManager,
    prefix: String,
    mesh: Mesh,
    shard_count: u32,
    created: Mutex<HashSet<(String, u32)>>,
}

impl GroupSessions {
    pub(crate) fn new(
        redis: ConnectionManager,
        prefix: &str,
        mesh: Mesh,
        shard_count: u32,
    ) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            mesh,
            shard_count,
            created: Mutex::new(HashSet::new()),
        }
    }

    /// Registers `groups` with `pattern` (`<root>/>`) unless they are registered already (a
    /// group registered with another pattern keeps it).
    pub(crate) async fn register(
        &self,
        groups: &[String],
        pattern: &TopicPattern,
    ) -> Result<(), IngestError> {
        let mut redis = self.redis.clone();
        let known = GroupRegistry::list(&mut redis, &self.prefix)
            .await
            .map_err(|e| redis_error("reading the group registry", e))?;
        for name in groups {
            match known.iter().find(|g| &g.name == name) {
                Some(g) if g.pattern != *pattern => {
                    tracing::info!(group = %name, pattern = %g.pattern, "consumer group already registered with its own pattern; kept");
                }
                Some(_) => {}
                None => {
                    GroupRegistry::register(&mut redis, &self.prefix, name, pattern)
                        .await
                        .map_err(|e| redis_error("registering a consumer group", e))?;
                    tracing::info!(group = %name, %pattern, "consumer group registered");
                }
            }
        }
        Ok(())
    }

    /// Creates the sessions of `shard` that this process has not created yet, for every
    /// registered group; returns how many it created. `later` says the shard is already
    /// publishing, so a new session only receives from now on (logged at INFO).
    pub(crate) async fn ensure(&self, shard: u32, later: bool) -> Result<usize, IngestError> {
        let mut redis = self.redis.clone();
        let groups = GroupRegistry::list(&mut redis, &self.prefix)
            .await
            .map_err(|e| redis_error("reading the group registry", e))?;
        let mut created = 0;
        for g in groups {
            if self.is_created(&g.name, shard) {
                continue;
            }
            let config = GroupConfig::new(g.name.clone(), g.pattern.clone(), self.shard_count);
            let pattern = match config
                .validate()
                .and_then(|()| config.partition_pattern(shard))
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(group = %g.name, pattern = %g.pattern, error = &e as &dyn std::error::Error, "registered group cannot have sessions; skipped");
                    self.mark_created(&g.name, shard);
                    continue;
                }
            };
            let name = config.session_name(shard);
            // A member holding the partition has the session open: opening it here would take
            // it over for a moment (the broker lets one client per id).
            let lease =
                ddiscord::coord::keys::lease_key(&self.prefix, &config.lease_group(), shard);
            let held: bool = redis::cmd("EXISTS")
                .arg(&lease)
                .query_async(&mut redis)
                .await
                .map_err(|e| {
                    redis_error(
                        "checking a consumer group's lease",
                        ddiscord::coord::CoordError::from_redis("checking a lease", e),
                    )
                })?;
            if held {
                self.mark_created(&g.name, shard);
                continue;
            }
            self.mesh.create(&name, &[pattern]).await.map_err(|e| {
                IngestError::with_source(
                    IngestErrorKind::Mesh {
                        context: "creating a consumer group's durable session",
                    },
                    e,
                )
            })?;
            self.mark_created(&g.name, shard);
            created += 1;
            if later {
                tracing::info!(group = %g.name, shard, session = %name, "consumer group registered while the shard runs: its session receives dispatches from now on");
            } else {
                tracing::debug!(group = %g.name, shard, session = %name, "durable session created");
            }
        }
        Ok(created)
    }

    fn is_created(&self, group: &str, shard: u32) -> bool {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(group.to_owned(), shard))
    }

    fn mark_created(&self, group: &str, shard: u32) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((group.to_owned(), shard));
    }
}

fn redis_error(context: &'static str, e: ddiscord::coord::CoordError) -> IngestError {
    IngestError::with_source(IngestErrorKind::Redis { context }, e)
}
