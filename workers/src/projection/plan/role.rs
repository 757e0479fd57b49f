//! Roles: GUILD_ROLE_CREATE, GUILD_ROLE_UPDATE and GUILD_ROLE_DELETE.

use twilight_model::gateway::payload::incoming::RoleDelete;
use twilight_model::guild::Role;
use twilight_model::id::Id;
use twilight_model::id::marker::GuildMarker;

use super::{Plan, Planner, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// A role created or updated: its value in its guild's roles.
    pub(super) fn role_upsert(
        &self,
        name: &str,
        guild: Id<GuildMarker>,
        role: &Role,
    ) -> Result<Plan, ProjectionError> {
        Ok(Plan::Ops(vec![Op::HSet(
            self.keys.guild_roles(guild.get()),
            vec![(id(role.id), json(name, role)?)],
        )]))
    }

    /// GUILD_ROLE_DELETE.
    pub(super) fn role_delete(&self, delete: &RoleDelete) -> Plan {
        Plan::Ops(vec![Op::HDel(
            self.keys.guild_roles(delete.guild_id.get()),
            vec![id(delete.role_id)],
        )])
    }
}
