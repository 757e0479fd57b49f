//! The current user: READY and USER_UPDATE.

use twilight_model::gateway::payload::incoming::{Ready, UserUpdate};

use super::{Plan, Planner, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// READY: the current user, and the shard's guilds of the new session (the guilds the
    /// shard had and READY no longer lists are retired).
    pub(super) fn ready(&self, name: &str, ready: &Ready) -> Result<Plan, ProjectionError> {
        Ok(Plan::Ops(vec![
            Op::Set(self.keys.current_user(), json(name, &ready.user)?),
            Op::Ready(ready.guilds.iter().map(|g| g.id.get()).collect()),
        ]))
    }

    /// USER_UPDATE: the current user.
    pub(super) fn user_update(
        &self,
        name: &str,
        user: &UserUpdate,
    ) -> Result<Plan, ProjectionError> {
        Ok(Plan::Ops(vec![Op::Set(
            self.keys.current_user(),
            json(name, &user.0)?,
        )]))
    }
}
