//! Messages: MESSAGE_CREATE, MESSAGE_UPDATE, MESSAGE_DELETE and MESSAGE_DELETE_BULK. The
//! author (and in a guild its member) is cached always, the message itself only with
//! [`ProjectionConfig::message_cache`](super::ProjectionConfig::message_cache).

use super::raw::{RawObject, Shape, ids};
use super::{Plan, Planner, Skip};
use crate::projection::Op;
use crate::projection::ops::Target;

impl Planner {
    /// MESSAGE_CREATE: its author, its author's member in a guild, and the message when
    /// messages are cached.
    pub(super) fn message_create(&self, d: RawObject<'_>) -> Result<Plan, Shape> {
        let mut ops = self.author(&d)?;
        if self.config.message_cache > 0 {
            ops.push(Op::MessageAdd {
                channel: d.id("channel_id", "d")?,
                message: d.id("id", "d")?,
                json: d.to_json(),
                limit: self.config.message_cache,
            });
        }
        Ok(Plan::Ops(ops))
    }

    /// MESSAGE_UPDATE: the fields it carries replace the cached message's (a message that is
    /// not cached is not created); its author as for MESSAGE_CREATE.
    pub(super) fn message_update(&self, d: RawObject<'_>) -> Result<Plan, Shape> {
        let mut ops = self.author(&d)?;
        if self.config.message_cache > 0 {
            let key = self
                .keys
                .message(d.id("channel_id", "d")?, d.id("id", "d")?);
            ops.push(Op::Merge {
                target: Target::Key(key),
                fields: d.to_pairs(),
                create: false,
            });
        }
        Ok(Plan::Ops(ops))
    }

    /// A message's author, as twilight-cache-inmemory caches it: in a guild, its member
    /// (the message's partial member merged into the cached one, or created) and user;
    /// elsewhere (direct messages, webhooks) the user only while a guild holds it.
    fn author(&self, d: &RawObject<'_>) -> Result<Vec<Op>, Shape> {
        let Some(author) = d.get("author") else {
            return Ok(Vec::new());
        };
        let user = RawObject::of(author, "d.author")?.id("id", "d.author")?;
        let json = author.get().to_owned();
        let guild = d.opt_id("guild_id", "d")?;
        Ok(match (guild, d.child("member", "d")?) {
            (Some(g), Some(member)) => vec![Op::MemberMerge {
                guild: g,
                user: user.to_string(),
                create: true,
                fields: member.to_pairs(),
                user_json: Some(json),
            }],
            _ => vec![Op::UserIfHeld {
                user: user.to_string(),
                json,
            }],
        })
    }

    /// MESSAGE_DELETE (`bulk`: MESSAGE_DELETE_BULK): the messages, when messages are cached.
    pub(super) fn message_delete(&self, d: &RawObject<'_>, bulk: bool) -> Result<Plan, Shape> {
        if self.config.message_cache == 0 {
            return Ok(Plan::Skip(Skip::NotCached));
        }
        let channel = d.id("channel_id", "d")?;
        let messages = if bulk {
            ids(d, "ids")?
        } else {
            vec![d.id("id", "d")?]
        };
        Ok(Plan::Ops(vec![Op::MessageDel { channel, messages }]))
    }
}
