//! The topic trees of `topics.yaml` under a configurable root.

use std::fmt::Write as _;

use super::{Topic, TopicError, TopicErrorKind, TopicPattern, check_common};
use crate::contract;

pub use crate::contract::Tree;

/// A parsed topic of the dispatch or state tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchTopic<'a> {
    /// [`Tree::Dispatch`] or [`Tree::State`].
    pub tree: Tree,
    /// Shard id.
    pub shard: u32,
    /// Guild snowflake, `None` for the placeholder level.
    pub guild: Option<u64>,
    /// Dispatch name.
    pub event: &'a str,
}

/// Builds and parses topics under one root (default `discord`, see `topics.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    root: String,
    state_root: String,
    command_root: String,
    lifecycle_root: String,
    dead_letter_root: String,
    interaction_reply_root: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self::with_valid_root(contract::DEFAULT_ROOT)
    }
}

impl Topics {
    /// Topics under `root`, one level such as `discord` or `mybot`.
    ///
    /// # Errors
    /// [`TopicError`] when the root is not a single valid literal level.
    pub fn new(root: &str) -> Result<Self, TopicError> {
        check_common("topic root", root)?;
        if root.contains('/') {
            return Err(TopicError::new(
                "topic root",
                root,
                TopicErrorKind::Shape {
                    expected: "one level, e.g. `discord`".into(),
                },
            ));
        }
        Topic::new(root)?;
        Ok(Self::with_valid_root(root))
    }

    fn with_valid_root(root: &str) -> Self {
        Self {
            root: root.to_owned(),
            state_root: format!("{root}-state"),
            command_root: format!("{root}-cmd"),
            lifecycle_root: format!("{root}-lifecycle"),
            dead_letter_root: format!("{root}-dead"),
            interaction_reply_root: format!("{root}-interaction-reply"),
        }
    }

    /// The root level, e.g. `discord`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The first level of `tree`.
    pub fn tree_root(&self, tree: Tree) -> &str {
        match tree {
            Tree::Dispatch => &self.root,
            Tree::State => &self.state_root,
            Tree::Command => &self.command_root,
            Tree::Lifecycle => &self.lifecycle_root,
            Tree::DeadLetter => &self.dead_letter_root,
            Tree::InteractionReply => &self.interaction_reply_root,
        }
    }

    /// `<root>/{shard}/{guild}/{event}`, the topic a dispatch is published on.
    ///
    /// # Errors
    /// [`TopicError`] when `event` is not a valid level (empty, `/`, wildcards, NUL).
    pub fn dispatch(
        &self,
        shard: u32,
        guild: Option<u64>,
        event: &str,
    ) -> Result<Topic, TopicError> {
        self.guild_topic(Tree::Dispatch, shard, guild, event)
    }

    /// `<root>-state/{shard}/{guild}/{event}`, published after the state worker applied it.
    ///
    /// # Errors
    /// As [`Self::dispatch`].
    pub fn state(&self, shard: u32, guild: Option<u64>, event: &str) -> Result<Topic, TopicError> {
        self.guild_topic(Tree::State, shard, guild, event)
    }

    fn guild_topic(
        &self,
        tree: Tree,
        shard: u32,
        guild: Option<u64>,
        event: &str,
    ) -> Result<Topic, TopicError> {
        let root = self.tree_root(tree);
        let mut s = String::with_capacity(root.len() + event.len() + 32);
        s.push_str(root);
        // Writing into a String cannot fail.
        let _ = write!(s, "/{shard}/");
        match guild {
            Some(g) => {
                let _ = write!(s, "{g}");
            }
            None => s.push_str(contract::NO_GUILD_PLACEHOLDER),
        }
        s.push('/');
        s.push_str(event);
        check_level(&s, event, 4)?;
        Ok(Topic::from_trusted(s))
    }

    /// `<root>-cmd/{shard}/{command}`.
    ///
    /// # Errors
    /// [`TopicError`] when `command` is not a valid level.
    pub fn command(&self, shard: u32, command: &str) -> Result<Topic, TopicError> {
        let s = format!("{}/{shard}/{command}", self.command_root);
        check_level(&s, command, 3)?;
        Ok(Topic::from_trusted(s))
    }

    /// `<root>-lifecycle/{shard}/{event}`.
    ///
    /// # Errors
    /// [`TopicError`] when `event` is not a valid level.
    pub fn lifecycle(&self, shard: u32, event: &str) -> Result<Topic, TopicError> {
        let s = format!("{}/{shard}/{event}", self.lifecycle_root);
        check_level(&s, event, 3)?;
        Ok(Topic::from_trusted(s))
    }

    /// `<root>-dead/{group}/{shard}`, where consumer group `group` puts what it gave up on.
    ///
    /// # Errors
    /// [`TopicError`] when `group` is not a valid level.
    pub fn dead_letter(&self, group: &str, shard: u32) -> Result<Topic, TopicError> {
        let s = format!("{}/{group}/{shard}", self.dead_letter_root);
        check_level(&s, group, 2)?;
        Ok(Topic::from_trusted(s))
    }

    /// `<root>-interaction-reply/{interaction}`, where a script answers the interaction with
    /// snowflake `interaction` that an HTTP endpoint replica holds (`topics.yaml`,
    /// `interaction_reply`).
    ///
    /// # Errors
    /// [`TopicError`] when the topic is over the length limit (a root near 250 bytes).
    pub fn interaction_reply(&self, interaction: u64) -> Result<Topic, TopicError> {
        let id = interaction.to_string();
        let s = format!("{}/{id}", self.interaction_reply_root);
        check_level(&s, &id, 2)?;
        Ok(Topic::from_trusted(s))
    }

    /// A pattern over the dispatch or state tree; `None` levels become `*`.
    ///
    /// # Errors
    /// [`TopicError`] when `event` is not a valid pattern level.
    pub fn pattern(
        &self,
        tree: Tree,
        shard: Option<u32>,
        guild: Option<u64>,
        event: Option<&str>,
    ) -> Result<TopicPattern, TopicError> {
        let shard = shard.map_or_else(|| "*".to_owned(), |s| s.to_string());
        let guild = guild.map_or_else(|| "*".to_owned(), |g| g.to_string());
        TopicPattern::new(format!(
            "{}/{shard}/{guild}/{}",
            self.tree_root(tree),
            event.unwrap_or("*")
        ))
    }

    /// Parses a topic of the dispatch or state tree.
    ///
    /// # Errors
    /// [`TopicError`] when the topic is not `<root>[-state]/{shard}/{guild}/{event}` with a
    /// decimal shard and a snowflake or the placeholder as guild.
    pub fn parse_dispatch<'a>(&self, topic: &'a str) -> Result<DispatchTopic<'a>, TopicError> {
        let shape = || {
            TopicError::new(
                "topic",
                topic,
                TopicErrorKind::Shape {
                    expected: format!("{}/{{shard}}/{{guild}}/{{event}}", self.root),
                },
            )
        };
        let mut parts = topic.split('/');
        let (Some(root), Some(shard), Some(guild), Some(event), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(shape());
        };
        let tree = if root == self.root {
            Tree::Dispatch
        } else if root == self.state_root {
            Tree::State
        } else {
            return Err(shape());
        };
        let shard = shard.parse().map_err(|_| {
            TopicError::new("topic", topic, TopicErrorKind::NotANumber { level: 2 })
        })?;
        let guild = if guild == contract::NO_GUILD_PLACEHOLDER {
            None
        } else {
            Some(guild.parse().map_err(|_| {
                TopicError::new("topic", topic, TopicErrorKind::NotANumber { level: 3 })
            })?)
        };
        if event.is_empty() {
            return Err(TopicError::new(
                "topic",
                topic,
                TopicErrorKind::EmptyLevel { level: 4 },
            ));
        }
        Ok(DispatchTopic {
            tree,
            shard,
            guild,
            event,
        })
    }
}

/// Validates the last level `name` (level number `level`) of the built topic `topic`.
fn check_level(topic: &str, name: &str, level: usize) -> Result<(), TopicError> {
    let bad = |kind| Err(TopicError::new("topic", topic, kind));
    if name.is_empty() {
        return bad(TopicErrorKind::EmptyLevel { level });
    }
    if name.contains('/') {
        return bad(TopicErrorKind::Shape {
            expected: "a name without `/`".into(),
        });
    }
    for ch in name.chars() {
        match ch {
            '\0' => return bad(TopicErrorKind::Nul { level }),
            '*' | '>' => return bad(TopicErrorKind::WildcardInTopic { level, ch }),
            '+' | '#' => return bad(TopicErrorKind::MqttWildcard { level, ch }),
            _ => {}
        }
    }
    let max = contract::LIMITS.max_bytes;
    if topic.len() > max {
        return bad(TopicErrorKind::TooLong {
            bytes: topic.len(),
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_parse_round_trip() {
        let t = Topics::default();
        let topic = t
            .dispatch(3, Some(81384788765712384), "MESSAGE_CREATE")
            .unwrap();
        assert_eq!(topic.as_str(), "discord/3/81384788765712384/MESSAGE_CREATE");
        let parsed = t.parse_dispatch(topic.as_str()).unwrap();
        assert_eq!(parsed.tree, Tree::Dispatch);
        assert_eq!(parsed.shard, 3);
        assert_eq!(parsed.guild, Some(81384788765712384));
        assert_eq!(parsed.event, "MESSAGE_CREATE");

        let ready = t.state(0, None, "READY").unwrap();
        assert_eq!(ready.as_str(), "discord-state/0/-/READY");
        let parsed = t.parse_dispatch(ready.as_str()).unwrap();
        assert_eq!((parsed.tree, parsed.guild), (Tree::State, None));

        assert_eq!(
            t.command(2, "PRESENCE_UPDATE").unwrap().as_str(),
            "discord-cmd/2/PRESENCE_UPDATE"
        );
        assert_eq!(
            t.lifecycle(2, "RESUMED").unwrap().as_str(),
            "discord-lifecycle/2/RESUMED"
        );
        assert_eq!(
            t.interaction_reply(1234).unwrap().as_str(),
            "discord-interaction-reply/1234"
        );
    }

    #[test]
    fn custom_root_and_errors() {
        let t = Topics::new("mybot").unwrap();
        assert_eq!(t.dispatch(0, None, "X").unwrap().as_str(), "mybot/0/-/X");
        assert!(Topics::new("a/b").is_err());
        assert!(Topics::new("a+").is_err());
        assert!(t.dispatch(0, None, "A/B").is_err());
        assert!(t.dispatch(0, None, "").is_err());
        assert!(t.dispatch(0, None, "A*").is_err());
        assert!(t.parse_dispatch("discord/0/-/X").is_err(), "other root");
        assert!(t.parse_dispatch("mybot/x/-/X").is_err());
        assert!(t.parse_dispatch("mybot/0/abc/X").is_err());
        assert!(t.parse_dispatch("mybot/0/-").is_err());
        assert!(t.parse_dispatch("mybot/0/-/X/Y").is_err());
    }

    #[test]
    fn patterns_from_parts() {
        let t = Topics::default();
        let p = t.pattern(Tree::State, None, Some(7), None).unwrap();
        assert_eq!(p.as_str(), "discord-state/*/7/*");
    }
}
