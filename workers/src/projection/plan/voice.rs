//! Voice states: VOICE_STATE_UPDATE.

use twilight_model::voice::VoiceState;

use super::{Plan, Planner, Skip, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// VOICE_STATE_UPDATE: the user's voice state in the guild (removed when it left the
    /// channel) and the member it carries; a state outside a guild is not cached.
    pub(super) fn voice_state_update(
        &self,
        name: &str,
        state: VoiceState,
    ) -> Result<Plan, ProjectionError> {
        let Some(g) = state.guild_id else {
            return Ok(Plan::Skip(Skip::NotCached));
        };
        let mut ops = Vec::new();
        let key = self.keys.guild_voice_states(g.get());
        if state.channel_id.is_some() {
            ops.push(Op::HSet(
                key,
                vec![(id(state.user_id), json(name, &state)?)],
            ));
        } else {
            ops.push(Op::HDel(key, vec![id(state.user_id)]));
        }
        if let Some(member) = &state.member {
            self.members(name, g.get(), std::slice::from_ref(member), &mut ops)?;
        }
        Ok(Plan::Ops(ops))
    }
}
