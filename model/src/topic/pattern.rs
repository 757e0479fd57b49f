//! Subscription patterns in Solace syntax.
//!
//! Source: <https://docs.solace.com/Messaging/Wildcard-Charaters-Topic-Subs.htm>.
//! - `*` alone matches exactly one level (any content).
//! - `abc*` matches one level that starts with `abc` ("prefix and 0 or more").
//! - `>` alone as the last level matches one or more trailing levels (`a/>` does not match `a`).
//!
//! Solace treats `*` inside a level (`a*b`) and `>` elsewhere as literals; this crate refuses
//! them instead, because a literal `*` or `>` never occurs in a topic DDiscord publishes.

use super::{TopicError, TopicErrorKind, check_common};

/// One level of a [`TopicPattern`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Level {
    /// Matches this exact level.
    Literal(String),
    /// `*`: matches any one level.
    Any,
    /// `abc*`: matches one level starting with the prefix.
    Prefix(String),
    /// `>` as the last level: one or more trailing levels.
    Rest,
}

/// A validated subscription pattern in Solace syntax, usable on every backend.
///
/// ```
/// use ddiscord_model::topic::TopicPattern;
/// let p: TopicPattern = "discord/*/*/MESSAGE_*".parse()?;
/// assert!(p.matches("discord/0/81384788765712384/MESSAGE_CREATE"));
/// assert!(!p.matches("discord/0/81384788765712384/TYPING_START"));
/// assert_eq!(p.to_mqtt_filter(), "discord/+/+/+");
/// # Ok::<(), ddiscord_model::topic::TopicError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicPattern {
    source: String,
    levels: Vec<Level>,
}

impl TopicPattern {
    /// Parses and validates a pattern.
    ///
    /// # Errors
    /// [`TopicError`] naming the level and the rule: the common topic rules (length, levels,
    /// empty level, NUL, `+`/`#`), a `*` before the end of a level, or a `>` that is not alone
    /// as the last level.
    pub fn new(pattern: impl Into<String>) -> Result<Self, TopicError> {
        let source = pattern.into();
        check_common("pattern", &source)?;
        let count = source.split('/').count();
        let mut levels = Vec::with_capacity(count);
        for (i, level) in source.split('/').enumerate() {
            let level_no = i + 1;
            let parsed = if level == ">" {
                if level_no != count {
                    return Err(TopicError::new(
                        "pattern",
                        &source,
                        TopicErrorKind::MisplacedGreaterThan { level: level_no },
                    ));
                }
                Level::Rest
            } else if level.contains('>') {
                return Err(TopicError::new(
                    "pattern",
                    &source,
                    TopicErrorKind::MisplacedGreaterThan { level: level_no },
                ));
            } else if level == "*" {
                Level::Any
            } else if let Some(prefix) = level.strip_suffix('*') {
                if prefix.contains('*') {
                    return Err(TopicError::new(
                        "pattern",
                        &source,
                        TopicErrorKind::MisplacedStar { level: level_no },
                    ));
                }
                Level::Prefix(prefix.to_owned())
            } else if level.contains('*') {
                return Err(TopicError::new(
                    "pattern",
                    &source,
                    TopicErrorKind::MisplacedStar { level: level_no },
                ));
            } else {
                Level::Literal(level.to_owned())
            };
            levels.push(parsed);
        }
        Ok(Self { source, levels })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parsed levels.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// Whether `topic` matches this pattern under Solace's rules. Never allocates.
    pub fn matches(&self, topic: &str) -> bool {
        let mut parts = topic.split('/');
        for level in &self.levels {
            match level {
                Level::Rest => return parts.next().is_some_and(|p| !p.is_empty()),
                Level::Any => match parts.next() {
                    Some(p) if !p.is_empty() => {}
                    _ => return false,
                },
                Level::Prefix(prefix) => match parts.next() {
                    Some(p) if p.starts_with(prefix.as_str()) && !p.is_empty() => {}
                    _ => return false,
                },
                Level::Literal(lit) => match parts.next() {
                    Some(p) if p == lit => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }

    /// The nearest MQTT topic filter that receives at least every matching topic
    /// (`*` and `abc*` become `+`, `>` becomes `#`).
    ///
    /// When [`Self::is_exact_in_mqtt`] is false the filter is wider than the pattern
    /// (MQTT has no prefix wildcard, and `a/#` also matches `a`), so receivers filter locally
    /// with [`Self::matches`].
    pub fn to_mqtt_filter(&self) -> String {
        let mut out = String::with_capacity(self.source.len());
        for (i, level) in self.levels.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            match level {
                Level::Literal(lit) => out.push_str(lit),
                Level::Any | Level::Prefix(_) => out.push('+'),
                Level::Rest => out.push('#'),
            }
        }
        out
    }

    /// Whether the MQTT filter of [`Self::to_mqtt_filter`] matches exactly the same topics.
    pub fn is_exact_in_mqtt(&self) -> bool {
        self.levels
            .iter()
            .all(|l| matches!(l, Level::Literal(_) | Level::Any))
    }

    /// Whether the pattern has no wildcard at all.
    pub fn is_literal(&self) -> bool {
        self.levels.iter().all(|l| matches!(l, Level::Literal(_)))
    }
}

impl std::fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for TopicPattern {
    type Err = TopicError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for TopicPattern {
    type Error = TopicError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for TopicPattern {
    type Error = TopicError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}
