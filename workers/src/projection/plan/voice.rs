//! Voice states: VOICE_STATE_UPDATE.

use super::member::member_write;
use super::raw::{RawObject, Shape};
use super::{Plan, Planner, Skip};
use crate::projection::Op;

impl Planner {
    /// VOICE_STATE_UPDATE: the user's voice state in the guild (removed when it left the
    /// channel), stored without `member`, which is cached as a member; a state outside a
    /// guild is not cached.
    pub(super) fn voice_state_update(&self, mut d: RawObject<'_>) -> Result<Plan, Shape> {
        let Some(g) = d.opt_id("guild_id", "d")? else {
            return Ok(Plan::Skip(Skip::NotCached));
        };
        let user = d.id("user_id", "d")?;
        let member = d.child("member", "d")?;
        d.take("member");
        let mut ops = Vec::new();
        let key = self.keys.guild_voice_states(g);
        if d.has("channel_id") {
            ops.push(Op::HSet(key, vec![(user.to_string(), d.to_json())]));
        } else {
            ops.push(Op::HDel(key, vec![user.to_string()]));
        }
        if let Some(member) = member {
            ops.push(Op::MemberSet {
                guild: g,
                members: vec![member_write(member)?],
            });
        }
        Ok(Plan::Ops(ops))
    }
}
