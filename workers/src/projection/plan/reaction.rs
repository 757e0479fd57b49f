//! Reactions on cached messages: MESSAGE_REACTION_ADD, MESSAGE_REACTION_REMOVE,
//! MESSAGE_REACTION_REMOVE_ALL and MESSAGE_REACTION_REMOVE_EMOJI. They change the `reactions`
//! of a cached message, so the projector reads the message (and the current user, for `me`)
//! before planning the write ([`Planner::reaction`]).
//!
//! Counts follow Discord's reaction object: `count`, and `count_details.normal` or
//! `count_details.burst` for a super reaction (`burst: true`); `me` / `me_burst` when the
//! current user reacted (<https://discord.com/developers/docs/resources/message#reaction-object>).

use super::raw::{RawObject, Shape};
use super::{Plan, Planner, Skip};
use crate::projection::Op;
use crate::projection::ops::Target;

/// A change to a message's reactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The channel.
    pub channel: u64,
    /// The message.
    pub message: u64,
    change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Add {
        user: u64,
        emoji: Emoji,
        emoji_json: String,
        burst: bool,
        burst_colors: Option<String>,
    },
    Remove {
        user: u64,
        emoji: Emoji,
        burst: bool,
    },
    RemoveAll,
    RemoveEmoji {
        emoji: Emoji,
    },
}

/// A reaction's emoji identity: a custom emoji by id, a Unicode emoji by name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Emoji {
    Custom(u64),
    Unicode(String),
}

impl Emoji {
    fn of(emoji: &RawObject<'_>) -> Result<Self, Shape> {
        if let Some(id) = emoji.opt_id("id", "emoji")? {
            return Ok(Emoji::Custom(id));
        }
        let name: Option<String> = emoji
            .get("name")
            .and_then(|n| serde_json::from_str(n.get()).ok());
        name.map(Emoji::Unicode)
            .ok_or_else(|| Shape("emoji has neither id nor name".into()))
    }
}

impl Planner {
    /// Plans a reaction event: the reacting member's fields refresh a cached member (ADD in a
    /// guild; none is created, as twilight-cache-inmemory caches no member from reactions), and
    /// the change to the message's reactions when messages are cached.
    pub(super) fn reaction_event(&self, name: &str, d: RawObject<'_>) -> Result<Plan, Shape> {
        let mut ops = Vec::new();
        if let (Some(g), Some(mut member)) = (d.opt_id("guild_id", "d")?, d.child("member", "d")?) {
            let user = member
                .take("user")
                .ok_or_else(|| Shape("d.member.user is missing".into()))?;
            let id = RawObject::of(&user, "d.member.user")?.id("id", "d.member.user")?;
            ops.push(Op::MemberMerge {
                guild: g,
                user: id.to_string(),
                create: false,
                fields: member.to_pairs(),
                user_json: Some(user.get().to_owned()),
            });
        }
        if self.config.message_cache == 0 {
            return Ok(if ops.is_empty() {
                Plan::Skip(Skip::NotCached)
            } else {
                Plan::Ops(ops)
            });
        }
        let emoji = || -> Result<(Emoji, String), Shape> {
            let raw = d
                .get("emoji")
                .ok_or_else(|| Shape("d.emoji is missing".into()))?;
            Ok((
                Emoji::of(&RawObject::of(raw, "d.emoji")?)?,
                raw.get().to_owned(),
            ))
        };
        let change = match name {
            "MESSAGE_REACTION_ADD" => {
                let (emoji, emoji_json) = emoji()?;
                Change::Add {
                    user: d.id("user_id", "d")?,
                    emoji,
                    emoji_json,
                    burst: d.is_true("burst"),
                    burst_colors: d.get("burst_colors").map(|v| v.get().to_owned()),
                }
            }
            "MESSAGE_REACTION_REMOVE" => Change::Remove {
                user: d.id("user_id", "d")?,
                emoji: emoji()?.0,
                burst: d.is_true("burst"),
            },
            "MESSAGE_REACTION_REMOVE_ALL" => Change::RemoveAll,
            _ => Change::RemoveEmoji { emoji: emoji()?.0 },
        };
        Ok(Plan::Reaction {
            ops,
            reaction: Reaction {
                channel: d.id("channel_id", "d")?,
                message: d.id("message_id", "d")?,
                change,
            },
        })
    }

    /// The write of `reaction` given the cached message (`None`: not cached, nothing to do)
    /// and the cached current user (for `me`).
    ///
    /// # Errors
    /// [`Shape`] when the cached message's reactions are not Discord's shape.
    pub(crate) fn reaction(
        &self,
        reaction: &Reaction,
        message: Option<&str>,
        current_user: Option<&str>,
    ) -> Result<Vec<Op>, Shape> {
        let Some(message) = message else {
            return Ok(Vec::new());
        };
        let me = match current_user {
            Some(text) => RawObject::parse(text, "current user")?.opt_id("id", "current user")?,
            None => None,
        };
        let message = RawObject::parse(message, "cached message")?;
        let mut reactions = super::raw::objects(&message, "reactions")?;
        let position =
            |reactions: &[RawObject<'_>], emoji: &Emoji| -> Result<Option<usize>, Shape> {
                for (i, r) in reactions.iter().enumerate() {
                    let Some(e) = r.child("emoji", "reaction")? else {
                        continue;
                    };
                    if Emoji::of(&e).ok().as_ref() == Some(emoji) {
                        return Ok(Some(i));
                    }
                }
                Ok(None)
            };
        let mut added = None;
        match &reaction.change {
            Change::RemoveAll => reactions.clear(),
            Change::RemoveEmoji { emoji } => {
                if let Some(i) = position(&reactions, emoji)? {
                    reactions.remove(i);
                }
            }
            Change::Add {
                user,
                emoji,
                emoji_json,
                burst,
                burst_colors,
            } => {
                let mine = me == Some(*user);
                match position(&reactions, emoji)? {
                    Some(i) => {
                        let r = &mut reactions[i];
                        counted(r, 1, *burst)?;
                        if mine {
                            r.set_json(if *burst { "me_burst" } else { "me" }, "true".into())?;
                        }
                    }
                    None => {
                        let (normal, burst_count) = if *burst { (0, 1) } else { (1, 0) };
                        added = Some(format!(
                            r#"{{"count":1,"count_details":{{"burst":{burst_count},"normal":{normal}}},"me":{},"me_burst":{},"emoji":{emoji_json},"burst_colors":{}}}"#,
                            mine && !*burst,
                            mine && *burst,
                            burst_colors.as_deref().unwrap_or("[]"),
                        ));
                    }
                }
            }
            Change::Remove { user, emoji, burst } => {
                if let Some(i) = position(&reactions, emoji)? {
                    let r = &mut reactions[i];
                    if counted(r, -1, *burst)? == 0 {
                        reactions.remove(i);
                    } else if me == Some(*user) {
                        r.set_json(if *burst { "me_burst" } else { "me" }, "false".into())?;
                    }
                }
            }
        }
        let mut array: Vec<String> = reactions.iter().map(RawObject::to_json).collect();
        array.extend(added);
        Ok(vec![Op::Merge {
            target: Target::Key(self.keys.message(reaction.channel, reaction.message)),
            fields: vec![("\"reactions\"".into(), format!("[{}]", array.join(",")))],
            create: false,
        }])
    }
}

/// Adds `by` to the reaction's `count` and to its `count_details.burst` or `.normal`; returns
/// the new count.
fn counted(reaction: &mut RawObject<'_>, by: i64, burst: bool) -> Result<i64, Shape> {
    let number = |r: &RawObject<'_>, key: &str| -> i64 {
        r.get(key).and_then(|v| v.get().parse().ok()).unwrap_or(0)
    };
    let count = (number(reaction, "count") + by).max(0);
    reaction.set_json("count", count.to_string())?;
    let details = match reaction.child("count_details", "reaction")? {
        Some(mut details) => {
            let key = if burst { "burst" } else { "normal" };
            let value = (number(&details, key) + by).max(0);
            details.set_json(key, value.to_string())?;
            details.to_json()
        }
        None => {
            let (b, n) = if burst { (count, 0) } else { (0, count) };
            format!(r#"{{"burst":{b},"normal":{n}}}"#)
        }
    };
    reaction.set_json("count_details", details)?;
    Ok(count)
}
