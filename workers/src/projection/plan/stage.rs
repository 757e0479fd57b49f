//! Stage instances: STAGE_INSTANCE_CREATE, STAGE_INSTANCE_UPDATE and STAGE_INSTANCE_DELETE.

use twilight_model::channel::StageInstance;

use super::{Plan, Planner, id, json};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// A stage instance created or updated: its value in its guild's stage instances.
    pub(super) fn stage_instance_upsert(
        &self,
        name: &str,
        stage: &StageInstance,
    ) -> Result<Plan, ProjectionError> {
        Ok(Plan::Ops(vec![Op::HSet(
            self.keys.guild_stage_instances(stage.guild_id.get()),
            vec![(id(stage.id), json(name, stage)?)],
        )]))
    }

    /// STAGE_INSTANCE_DELETE.
    pub(super) fn stage_instance_delete(&self, stage: &StageInstance) -> Plan {
        Plan::Ops(vec![Op::HDel(
            self.keys.guild_stage_instances(stage.guild_id.get()),
            vec![id(stage.id)],
        )])
    }
}
