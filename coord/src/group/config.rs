//! Configuration of a consumer group.

use std::time::Duration;

use ddiscord_model::defaults::KEY_PREFIX as DEFAULT_PREFIX;
use ddiscord_model::topic::TopicPattern;

use super::error::GroupError;

/// How a member joins a consumer group.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// The group's name: members with the same name share the partitions. Also names the
    /// durable sessions (`<root>-<name>-<shard>`) and the leases (`group:<name>`). Letters, digits,
    /// `-` and `_` only.
    pub name: String,
    /// What the group consumes: a pattern of the dispatch tree whose shard level is `*` or `>`
    /// (`discord/>`, `discord/*/*/MESSAGE_*`); each partition subscribes to it with the shard
    /// level set to its shard.
    pub pattern: TopicPattern,
    /// Partitions: the shard count.
    pub partitions: u32,
    /// Redis key prefix of the leases (default `dd:`).
    pub key_prefix: String,
    /// Node id of this member in the leases (unique per process).
    pub node_id: String,
    /// Lease time to live: how long a crashed member's partitions wait before another member
    /// takes them over (default 10 s).
    pub lease_ttl: Duration,
    /// Messages buffered between the partitions' sessions and the consumer (default 1,024);
    /// a full buffer holds back the sessions, it never drops.
    pub capacity: usize,
    /// Deliveries before a nacked message goes to the dead-letter topic (default 5).
    pub max_deliveries: u32,
    /// Wait before a nacked message is delivered again (default 1 s).
    pub retry_delay: Duration,
}

impl GroupConfig {
    /// A configuration with the defaults.
    pub fn new(name: impl Into<String>, pattern: TopicPattern, partitions: u32) -> Self {
        Self {
            name: name.into(),
            pattern,
            partitions,
            key_prefix: DEFAULT_PREFIX.to_owned(),
            node_id: crate::default_node_id(),
            lease_ttl: Duration::from_secs(10),
            capacity: 1024,
            max_deliveries: 5,
            retry_delay: Duration::from_secs(1),
        }
    }

    /// Checks the values.
    ///
    /// # Errors
    /// [`GroupErrorKind::InvalidConfig`](super::GroupErrorKind::InvalidConfig) with the reason.
    pub fn validate(&self) -> Result<(), GroupError> {
        let bad = |r: String| Err(GroupError::invalid_config(r));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad(format!(
                "group name {:?} must be non-empty letters, digits, '-' or '_'",
                self.name
            ));
        }
        if self.partitions == 0 {
            return bad("partitions (the shard count) must be at least 1".into());
        }
        if self.capacity == 0 || self.max_deliveries == 0 {
            return bad("capacity and max_deliveries must be at least 1".into());
        }
        self.partition_pattern(0).map(|_| ())
    }

    /// The pattern partition `shard` subscribes to: [`GroupConfig::pattern`] with its shard
    /// level set to `shard`.
    ///
    /// # Errors
    /// [`GroupErrorKind::InvalidConfig`](super::GroupErrorKind::InvalidConfig) when the pattern's shard level is not `*` or `>`.
    pub fn partition_pattern(&self, shard: u32) -> Result<TopicPattern, GroupError> {
        let text = self.pattern.as_str();
        let mut levels: Vec<&str> = text.split('/').collect();
        let shard_text = shard.to_string();
        match levels.get(1).copied() {
            Some("*") => levels[1] = &shard_text,
            Some(">") => {
                levels[1] = &shard_text;
                levels.push(">");
            }
            _ => {
                return Err(GroupError::invalid_config(format!(
                    "pattern {text:?} must have `*` or `>` as its shard level (e.g. discord/>)"
                )));
            }
        }
        TopicPattern::new(levels.join("/"))
            .map_err(|e| GroupError::invalid_config(format!("pattern {text:?}: {e}")))
    }

    /// The durable session name of partition `shard`: `<root>-<name>-<shard>`, where
    /// `<root>` is the pattern's first level (the topic root), so that two bots sharing a
    /// broker never take each other's sessions over.
    pub fn session_name(&self, shard: u32) -> String {
        format!("{}-{}-{shard}", self.root(), self.name)
    }

    /// The topic root the group consumes: the pattern's first level (`discord`).
    pub fn root(&self) -> &str {
        self.pattern.as_str().split('/').next().unwrap_or("discord")
    }

    /// The lease group: `group:<name>`.
    pub fn lease_group(&self) -> String {
        format!("group:{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_patterns() {
        let all = GroupConfig::new("state", TopicPattern::new("discord/>").unwrap(), 4);
        assert_eq!(all.partition_pattern(3).unwrap().as_str(), "discord/3/>");
        let msgs = GroupConfig::new("q", TopicPattern::new("discord/*/*/MESSAGE_*").unwrap(), 2);
        assert_eq!(
            msgs.partition_pattern(1).unwrap().as_str(),
            "discord/1/*/MESSAGE_*"
        );
        let fixed = GroupConfig::new("q", TopicPattern::new("discord/1/>").unwrap(), 2);
        assert!(fixed.validate().is_err());
        let name = GroupConfig::new("a b", TopicPattern::new("discord/>").unwrap(), 2);
        assert!(name.validate().is_err());
        assert!(all.validate().is_ok());
    }
}
