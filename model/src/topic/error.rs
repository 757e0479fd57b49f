//! Errors for topics and subscription patterns.

use std::fmt;

/// A topic or pattern that breaks a rule of the contract.
///
/// The message names the offending level (1-based) and the rule, e.g.
/// ``invalid pattern `discord//READY`: level 2 is empty; every level needs at least one character``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{input}`: {kind}")]
pub struct TopicError {
    what: &'static str,
    input: String,
    kind: TopicErrorKind,
}

impl TopicError {
    pub(crate) fn new(what: &'static str, input: &str, kind: TopicErrorKind) -> Self {
        // Keep the message readable for huge inputs.
        let input = if input.len() > 300 {
            let mut end = 300;
            while !input.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &input[..end])
        } else {
            input.to_owned()
        };
        Self { what, input, kind }
    }

    /// What rule was broken.
    pub fn kind(&self) -> &TopicErrorKind {
        &self.kind
    }

    /// The topic or pattern as given (cut at 300 bytes).
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// The rule a topic or pattern broke. Levels are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicErrorKind {
    /// The string is empty.
    Empty,
    /// Longer than Solace's 250 bytes.
    TooLong {
        /// Length in bytes.
        bytes: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// More than Solace's 128 levels.
    TooManyLevels {
        /// Number of levels.
        levels: usize,
        /// The limit.
        max: usize,
    },
    /// A level with no characters (`a//b`, a leading or trailing `/`).
    EmptyLevel {
        /// The level.
        level: usize,
    },
    /// A NUL character, which Solace rejects.
    Nul {
        /// The level.
        level: usize,
    },
    /// `*` or `>` in a topic to publish on: they are wildcards only in subscriptions.
    WildcardInTopic {
        /// The level.
        level: usize,
        /// The character.
        ch: char,
    },
    /// `+` or `#`, which MQTT reads as wildcards and so cannot appear in a literal level.
    MqttWildcard {
        /// The level.
        level: usize,
        /// The character.
        ch: char,
    },
    /// `*` somewhere other than the end of a level (`*abc`, `a*b`).
    MisplacedStar {
        /// The level.
        level: usize,
    },
    /// `>` anywhere but alone as the last level.
    MisplacedGreaterThan {
        /// The level.
        level: usize,
    },
    /// A topic that does not have the shape of the tree it was parsed as.
    Shape {
        /// What was expected, e.g. `discord/{shard}/{guild}/{event}`.
        expected: String,
    },
    /// A level that should be a number (shard) or a snowflake (guild) is not.
    NotANumber {
        /// The level.
        level: usize,
    },
}

impl fmt::Display for TopicErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty; give at least one level"),
            Self::TooLong { bytes, max } => {
                write!(f, "it is {bytes} bytes long; Solace allows at most {max}")
            }
            Self::TooManyLevels { levels, max } => {
                write!(f, "it has {levels} levels; Solace allows at most {max}")
            }
            Self::EmptyLevel { level } => write!(
                f,
                "level {level} is empty; every level needs at least one character (no `//`, no leading or trailing `/`)"
            ),
            Self::Nul { level } => write!(f, "level {level} contains a NUL character"),
            Self::WildcardInTopic { level, ch } => write!(
                f,
                "level {level} contains `{ch}`, a wildcard; wildcards belong in subscriptions, not in topics to publish on"
            ),
            Self::MqttWildcard { level, ch } => write!(
                f,
                "level {level} contains `{ch}`, which MQTT reads as a wildcard; use Solace syntax (`*` for one level, `>` for the rest)"
            ),
            Self::MisplacedStar { level } => write!(
                f,
                "level {level} has `*` before its end; `*` is a whole level or ends a prefix (`MESSAGE_*`)"
            ),
            Self::MisplacedGreaterThan { level } => write!(
                f,
                "level {level} has `>`; `>` is only a wildcard alone as the last level"
            ),
            Self::Shape { expected } => write!(f, "expected a topic of the form `{expected}`"),
            Self::NotANumber { level } => {
                write!(f, "level {level} must be a decimal number")
            }
        }
    }
}
