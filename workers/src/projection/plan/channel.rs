//! Guild channels: CHANNEL_CREATE, CHANNEL_UPDATE (and the thread upserts, which are cached
//! as channels), CHANNEL_DELETE and CHANNEL_PINS_UPDATE.

use super::raw::{RawObject, Shape};
use super::{Plan, Planner, Skip};
use crate::projection::Op;

impl Planner {
    /// A channel or thread created or updated: the event carries the whole channel, which
    /// replaces the cached one (fields only some events carry, such as THREAD_CREATE's
    /// `newly_created`, do not outlive them), and its entry in the channel → guild index.
    /// Direct-message channels are not cached (no guild to file them under).
    pub(super) fn channel_upsert(&self, d: RawObject<'_>) -> Result<Plan, Shape> {
        let mut ops = Vec::new();
        self.push_channel(&d, &mut ops)?;
        Ok(if ops.is_empty() {
            Plan::Skip(Skip::NotCached)
        } else {
            Plan::Ops(ops)
        })
    }

    /// Appends the writes of [`Planner::channel_upsert`] for `channel` to `ops`.
    pub(super) fn push_channel(
        &self,
        channel: &RawObject<'_>,
        ops: &mut Vec<Op>,
    ) -> Result<(), Shape> {
        let c = channel.id("id", "channel")?;
        let Some(g) = channel.opt_id("guild_id", "channel")? else {
            return Ok(());
        };
        ops.push(Op::HSet(
            self.keys.guild_channels(g),
            vec![(c.to_string(), channel.to_json())],
        ));
        ops.push(Op::HSet(
            self.keys.channel_guild(),
            vec![(c.to_string(), g.to_string())],
        ));
        Ok(())
    }

    /// CHANNEL_DELETE: the channel and what hangs off it; a direct-message channel is not
    /// cached.
    pub(super) fn channel_delete(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let c = d.id("id", "d")?;
        Ok(match d.opt_id("guild_id", "d")? {
            Some(g) => Plan::Ops(vec![Op::DelChannel {
                guild: g,
                channel: c,
            }]),
            None => Plan::Skip(Skip::NotCached),
        })
    }

    /// CHANNEL_PINS_UPDATE: the cached channel's `last_pin_timestamp` (`null` when the event
    /// lacks it); the guild is found through `channel-guild` when the event lacks it, and a
    /// channel that is not cached is not created.
    pub(super) fn pins_update(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let channel = d.id("channel_id", "d")?;
        let guild = d.opt_id("guild_id", "d")?;
        let last = d.get("last_pin_timestamp").map_or("null", |v| v.get());
        Ok(Plan::Ops(vec![Op::ChannelMerge {
            channel,
            guild,
            fields: vec![("\"last_pin_timestamp\"".into(), last.to_owned())],
        }]))
    }
}
