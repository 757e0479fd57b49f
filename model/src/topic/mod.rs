//! Topics and subscription patterns, as fixed by `topics.yaml`.
//!
//! - [`Topic`]: a concrete topic to publish on (`discord/0/81384788765712384/MESSAGE_CREATE`).
//! - [`TopicPattern`]: a subscription in Solace syntax (`discord/*/*/MESSAGE_*`, `discord/3/>`).
//! - [`Topics`]: builds and parses the topics of each tree under a configurable root.
//!
//! Rules (Solace's, so that every backend accepts the same strings,
//! <https://docs.solace.com/Messaging/SMF-Topics.htm>): at most 250 bytes and 128 levels, no
//! empty level, no NUL; `+` and `#` are refused everywhere because MQTT would read them as
//! wildcards.

mod error;
mod pattern;
mod tree;

pub use error::{TopicError, TopicErrorKind};
pub use pattern::{Level, TopicPattern};
pub use tree::{DispatchTopic, Topics, Tree};

use crate::contract;

/// A validated topic to publish on: levels separated by `/`, no wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(String);

impl Topic {
    /// Validates `topic` as a publish topic.
    ///
    /// # Errors
    /// [`TopicError`] naming the level and the rule when the topic is empty, too long, has too
    /// many levels, an empty level, a NUL, or a wildcard character (`*`, `>`, `+`, `#`).
    pub fn new(topic: impl Into<String>) -> Result<Self, TopicError> {
        let topic = topic.into();
        check_common("topic", &topic)?;
        for (i, level) in topic.split('/').enumerate() {
            if let Some(ch) = level.chars().find(|c| matches!(c, '*' | '>')) {
                return Err(TopicError::new(
                    "topic",
                    &topic,
                    TopicErrorKind::WildcardInTopic { level: i + 1, ch },
                ));
            }
        }
        Ok(Self(topic))
    }

    /// Wraps a string the caller has built from validated parts.
    pub(crate) fn from_trusted(topic: String) -> Self {
        Self(topic)
    }

    /// The topic as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The levels of the topic.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Topic {
    type Err = TopicError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// Checks shared by topics and patterns: length, level count, empty levels, NUL, `+`/`#`.
fn check_common(what: &'static str, s: &str) -> Result<(), TopicError> {
    let limits = contract::LIMITS;
    if s.is_empty() {
        return Err(TopicError::new(what, s, TopicErrorKind::Empty));
    }
    let levels = s.split('/').count();
    if levels > limits.max_levels {
        return Err(TopicError::new(
            what,
            s,
            TopicErrorKind::TooManyLevels {
                levels,
                max: limits.max_levels,
            },
        ));
    }
    if s.len() > limits.max_bytes {
        return Err(TopicError::new(
            what,
            s,
            TopicErrorKind::TooLong {
                bytes: s.len(),
                max: limits.max_bytes,
            },
        ));
    }
    for (i, level) in s.split('/').enumerate() {
        let level_no = i + 1;
        if level.is_empty() {
            return Err(TopicError::new(
                what,
                s,
                TopicErrorKind::EmptyLevel { level: level_no },
            ));
        }
        for ch in level.chars() {
            match ch {
                '\0' => {
                    return Err(TopicError::new(
                        what,
                        s,
                        TopicErrorKind::Nul { level: level_no },
                    ));
                }
                '+' | '#' => {
                    return Err(TopicError::new(
                        what,
                        s,
                        TopicErrorKind::MqttWildcard {
                            level: level_no,
                            ch,
                        },
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The shard that owns `guild_id` among `shard_count` shards: `(guild_id >> 22) % shard_count`.
///
/// Source: <https://discord.com/developers/docs/events/gateway#sharding>. Returns 0 when
/// `shard_count` is 0.
pub fn shard_for_guild(guild_id: u64, shard_count: u32) -> u32 {
    if shard_count == 0 {
        return 0;
    }
    // The remainder is below `shard_count`, so it fits in u32.
    u32::try_from((guild_id >> 22) % u64::from(shard_count)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_validate() {
        assert!(Topic::new("discord/0/-/READY").is_ok());
        let e = Topic::new("discord//READY").unwrap_err();
        assert_eq!(e.kind(), &TopicErrorKind::EmptyLevel { level: 2 });
        assert!(e.to_string().contains("level 2 is empty"), "{e}");
        let e = Topic::new("discord/*/READY").unwrap_err();
        assert_eq!(
            e.kind(),
            &TopicErrorKind::WildcardInTopic { level: 2, ch: '*' }
        );
        let e = Topic::new("discord/a+b").unwrap_err();
        assert_eq!(
            e.kind(),
            &TopicErrorKind::MqttWildcard { level: 2, ch: '+' }
        );
        assert!(matches!(
            Topic::new("a".repeat(251)).unwrap_err().kind(),
            TopicErrorKind::TooLong { bytes: 251, .. }
        ));
        assert!(matches!(
            Topic::new(vec!["a"; 129].join("/")).unwrap_err().kind(),
            TopicErrorKind::TooManyLevels { levels: 129, .. }
        ));
        assert!(matches!(
            Topic::new("a/\0").unwrap_err().kind(),
            TopicErrorKind::Nul { level: 2 }
        ));
        assert_eq!(Topic::new("").unwrap_err().kind(), &TopicErrorKind::Empty);
    }

    #[test]
    fn shard_routing_follows_discord() {
        // (81384788765712384 >> 22) % 16 = 2
        assert_eq!(shard_for_guild(81384788765712384, 16), 2);
        assert_eq!(shard_for_guild(81384788765712384, 1), 0);
        assert_eq!(shard_for_guild(1, 0), 0);
    }
}
