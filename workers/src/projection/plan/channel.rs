//! Guild channels: CHANNEL_CREATE, CHANNEL_UPDATE (and the thread upserts, which are cached
//! as channels), CHANNEL_DELETE and CHANNEL_PINS_UPDATE.

use twilight_model::channel::Channel;
use twilight_model::gateway::payload::incoming::ChannelPinsUpdate;

use super::{Plan, Planner, Skip, encode_error, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// A channel or thread created or updated: its value in its guild's channels and its entry
    /// in the channel → guild index. Direct-message channels are not cached (no guild to file
    /// them under).
    pub(super) fn channel_upsert(
        &self,
        name: &str,
        channel: Channel,
    ) -> Result<Plan, ProjectionError> {
        let mut ops = Vec::new();
        self.push_channel(name, channel, &mut ops)?;
        Ok(Plan::Ops(ops))
    }

    /// Appends the writes of [`Planner::channel_upsert`] to `ops`.
    pub(super) fn push_channel(
        &self,
        name: &str,
        channel: Channel,
        ops: &mut Vec<Op>,
    ) -> Result<(), ProjectionError> {
        // Direct-message channels are not cached (no guild to file them under).
        let Some(g) = channel.guild_id else {
            return Ok(());
        };
        ops.push(Op::HSet(
            self.keys.guild_channels(g.get()),
            vec![(id(channel.id), json(name, &channel)?)],
        ));
        ops.push(Op::HSet(
            self.keys.channel_guild(),
            vec![(id(channel.id), g.get().to_string())],
        ));
        Ok(())
    }

    /// CHANNEL_DELETE: the channel and what hangs off it; a direct-message channel is not
    /// cached.
    pub(super) fn channel_delete(&self, channel: &Channel) -> Plan {
        match channel.guild_id {
            Some(g) => Plan::Ops(vec![Op::DelChannel {
                guild: g.get(),
                channel: channel.id.get(),
            }]),
            None => Plan::Skip(Skip::NotCached),
        }
    }

    /// Plans a CHANNEL_PINS_UPDATE against the cached channel (`cached`: its value in
    /// `guild:<guild>:channels`, the guild found through `channel-guild` when the event lacks
    /// it); a channel that is not cached is not created.
    ///
    /// # Errors
    /// [`ProjectionErrorKind::Encode`](crate::projection::ProjectionErrorKind::Encode) when
    /// the cached value is not a channel object.
    pub fn pins_update(
        &self,
        pins: &ChannelPinsUpdate,
        guild: u64,
        cached: Option<&str>,
    ) -> Result<Vec<Op>, ProjectionError> {
        let Some(cached) = cached else {
            return Ok(Vec::new());
        };
        let encode = |source| encode_error("CHANNEL_PINS_UPDATE", source);
        let mut channel: Channel = serde_json::from_str(cached).map_err(encode)?;
        channel.last_pin_timestamp = pins.last_pin_timestamp;
        Ok(vec![Op::HSet(
            self.keys.guild_channels(guild),
            vec![(
                id(channel.id),
                serde_json::to_string(&channel).map_err(encode)?,
            )],
        )])
    }
}
