//! The current user: READY and USER_UPDATE.

use super::raw::{RawObject, Shape, objects};
use super::{Plan, Planner};
use crate::projection::Op;

impl Planner {
    /// READY: the current user, and the shard's guilds of the new session (the guilds the
    /// shard had and READY no longer lists are retired).
    pub(super) fn ready(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let user = d
            .get("user")
            .ok_or_else(|| Shape("d.user is missing".into()))?;
        let mut guilds = Vec::new();
        for guild in objects(d, "guilds")? {
            guilds.push(guild.id("id", "guilds[]")?);
        }
        Ok(Plan::Ops(vec![
            Op::Set(self.keys.current_user(), user.get().to_owned()),
            Op::Ready(guilds),
        ]))
    }

    /// USER_UPDATE: the current user (the whole user object).
    pub(super) fn user_update(&self, d: &RawObject<'_>) -> Plan {
        Plan::Ops(vec![Op::Set(self.keys.current_user(), d.to_json())])
    }
}
