//! Presences: PRESENCE_UPDATE, cached only with
//! [`ProjectionConfig::cache_presences`](super::ProjectionConfig::cache_presences).

use twilight_model::gateway::payload::incoming::PresenceUpdate;

use super::{Plan, Planner, Skip, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// PRESENCE_UPDATE: the user's presence in the guild, when presences are cached.
    pub(super) fn presence_update(
        &self,
        name: &str,
        presence: &PresenceUpdate,
    ) -> Result<Plan, ProjectionError> {
        if !self.config.cache_presences {
            return Ok(Plan::Skip(Skip::NotCached));
        }
        Ok(Plan::Ops(vec![Op::HSet(
            self.keys.guild_presences(presence.guild_id.get()),
            vec![(id(presence.user.id()), json(name, &presence.0)?)],
        )]))
    }
}
