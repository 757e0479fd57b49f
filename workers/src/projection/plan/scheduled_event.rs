//! Scheduled events: GUILD_SCHEDULED_EVENT_CREATE, GUILD_SCHEDULED_EVENT_UPDATE and
//! GUILD_SCHEDULED_EVENT_DELETE.

use twilight_model::guild::scheduled_event::GuildScheduledEvent;

use super::{Plan, Planner, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// A scheduled event created or updated: its value in its guild's scheduled events.
    pub(super) fn scheduled_event_upsert(
        &self,
        name: &str,
        event: &GuildScheduledEvent,
    ) -> Result<Plan, ProjectionError> {
        Ok(Plan::Ops(vec![Op::HSet(
            self.keys.guild_scheduled_events(event.guild_id.get()),
            vec![(id(event.id), json(name, event)?)],
        )]))
    }

    /// GUILD_SCHEDULED_EVENT_DELETE.
    pub(super) fn scheduled_event_delete(&self, event: &GuildScheduledEvent) -> Plan {
        Plan::Ops(vec![Op::HDel(
            self.keys.guild_scheduled_events(event.guild_id.get()),
            vec![id(event.id)],
        )])
    }
}
