//! Guild items cached by id, each event carrying the whole item and its `guild_id`: stage
//! instances, scheduled events and integrations (their CREATE/UPDATE and DELETE).

use ddiscord::cache::Keys;

use super::raw::{RawObject, Shape};
use super::{Plan, Planner};
use crate::projection::Op;

impl Planner {
    /// An item created or updated: its value in the guild's hash `hash`.
    pub(super) fn item_upsert(
        &self,
        d: RawObject<'_>,
        hash: impl Fn(&Keys, u64) -> String,
    ) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let id = d.id("id", "d")?;
        Ok(Plan::Ops(vec![Op::HSet(
            hash(&self.keys, g),
            vec![(id.to_string(), d.to_json())],
        )]))
    }

    /// An item deleted: its id is `id_key` of `d`.
    pub(super) fn item_delete(
        &self,
        d: &RawObject<'_>,
        id_key: &str,
        hash: impl Fn(&Keys, u64) -> String,
    ) -> Result<Plan, Shape> {
        let g = d.id("guild_id", "d")?;
        let id = d.id(id_key, "d")?;
        Ok(Plan::Ops(vec![Op::HDel(
            hash(&self.keys, g),
            vec![id.to_string()],
        )]))
    }
}
