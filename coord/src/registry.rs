//! Registered consumer groups, so that their durable sessions exist before the first publish.
//!
//! A consumer group's durable sessions (one per shard) must exist on the broker before ingest
//! publishes a shard's first dispatch: a broker keeps messages only for sessions it knows.
//! Groups are therefore registered in the hash `{prefix}groups` (group name → the pattern it
//! consumes, such as `discord/>`), and ingest creates the session of every registered group
//! for a shard before that shard publishes anything ([`GroupRegistry::list`]). A group
//! registered while ingest is already running gets its sessions from then on: it starts from
//! "now" and says so in its log.

use super::error::CoordError;
use ddiscord_model::topic::TopicPattern;

use crate::keys::groups_key;

/// A registered consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredGroup {
    /// The group's name (`GroupConfig::name`).
    pub name: String,
    /// The pattern it consumes (shard level `*` or `>`).
    pub pattern: TopicPattern,
}

/// The registry of consumer groups in Redis.
#[derive(Debug, Clone, Copy)]
pub struct GroupRegistry;

impl GroupRegistry {
    /// Registers `name` consuming `pattern`; returns whether it was new.
    ///
    /// # Errors
    /// [`super::CoordErrorKind::Redis`] when Redis fails.
    pub async fn register<C>(
        redis: &mut C,
        prefix: &str,
        name: &str,
        pattern: &TopicPattern,
    ) -> Result<bool, CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let previous: Option<String> = redis::cmd("HGET")
            .arg(groups_key(prefix))
            .arg(name)
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("reading the group registry", e))?;
        if previous.as_deref() == Some(pattern.as_str()) {
            return Ok(false);
        }
        let _: () = redis::cmd("HSET")
            .arg(groups_key(prefix))
            .arg(name)
            .arg(pattern.as_str())
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("registering a consumer group", e))?;
        Ok(previous.is_none())
    }

    /// Every registered group (entries whose pattern does not parse are skipped with a log
    /// line).
    ///
    /// # Errors
    /// [`super::CoordErrorKind::Redis`] when Redis fails.
    pub async fn list<C>(redis: &mut C, prefix: &str) -> Result<Vec<RegisteredGroup>, CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(groups_key(prefix))
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("reading the group registry", e))?;
        let mut groups = Vec::with_capacity(all.len());
        for (name, pattern) in all {
            match TopicPattern::new(pattern.clone()) {
                Ok(pattern) => groups.push(RegisteredGroup { name, pattern }),
                Err(e) => {
                    tracing::warn!(group = %name, %pattern, error = &e as &dyn std::error::Error, "registered group with an invalid pattern skipped");
                }
            }
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }

    /// Removes `name` from the registry (its sessions stay on the broker until they expire).
    ///
    /// # Errors
    /// [`super::CoordErrorKind::Redis`] when Redis fails.
    pub async fn unregister<C>(redis: &mut C, prefix: &str, name: &str) -> Result<(), CoordError>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let _: () = redis::cmd("HDEL")
            .arg(groups_key(prefix))
            .arg(name)
            .query_async(redis)
            .await
            .map_err(|e| CoordError::redis("unregistering a consumer group", e))?;
        Ok(())
    }
}
