//! Roles: GUILD_ROLE_CREATE, GUILD_ROLE_UPDATE and GUILD_ROLE_DELETE.

use super::raw::{RawObject, Shape};
use super::{Plan, Planner};
use crate::projection::Op;

impl Planner {
    /// A role created or updated (the event carries the whole role): its value in its
    /// guild's roles.
    pub(super) fn role_upsert(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let role = d
            .child("role", "d")?
            .ok_or_else(|| Shape("d.role is missing".into()))?;
        let r = role.id("id", "d.role")?;
        Ok(Plan::Ops(vec![Op::HSet(
            self.keys.guild_roles(g),
            vec![(r.to_string(), role.to_json())],
        )]))
    }

    /// GUILD_ROLE_DELETE.
    pub(super) fn role_delete(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let r = d.id("role_id", "d")?;
        Ok(Plan::Ops(vec![Op::HDel(
            self.keys.guild_roles(g),
            vec![r.to_string()],
        )]))
    }
}
