//! Messages: MESSAGE_CREATE, MESSAGE_UPDATE, MESSAGE_DELETE and MESSAGE_DELETE_BULK. The
//! author (and in a guild its member) is cached always, the message itself only with
//! [`ProjectionConfig::message_cache`](super::ProjectionConfig::message_cache).

use twilight_model::channel::Message;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};

use super::member::partial_member_json;
use super::{Plan, Planner, Skip, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// A message created, or updated (MESSAGE_UPDATE carries the whole message): its author,
    /// its author's member in a guild, and the message when messages are cached.
    pub(super) fn message_create(
        &self,
        name: &str,
        message: Message,
    ) -> Result<Plan, ProjectionError> {
        // As twilight-cache-inmemory: the author is cached, and in a guild its member.
        let mut ops = vec![Op::Set(
            self.keys.user(message.author.id.get()),
            json(name, &message.author)?,
        )];
        if let (Some(g), Some(member)) = (message.guild_id, &message.member) {
            ops.push(Op::HSet(
                self.keys.guild_members(g.get()),
                vec![(
                    id(message.author.id),
                    partial_member_json(name, member, &message.author)?,
                )],
            ));
        }
        if self.config.message_cache > 0 {
            ops.push(Op::MessageAdd {
                channel: message.channel_id.get(),
                message: message.id.get(),
                json: json(name, &message)?,
                limit: self.config.message_cache,
            });
        }
        Ok(Plan::Ops(ops))
    }

    /// MESSAGE_DELETE and MESSAGE_DELETE_BULK: the messages, when messages are cached.
    pub(super) fn message_delete(
        &self,
        channel: Id<ChannelMarker>,
        messages: &[Id<MessageMarker>],
    ) -> Plan {
        if self.config.message_cache == 0 {
            return Plan::Skip(Skip::NotCached);
        }
        Plan::Ops(vec![Op::MessageDel {
            channel: channel.get(),
            messages: messages.iter().map(|m| m.get()).collect(),
        }])
    }
}
