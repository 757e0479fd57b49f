//! A guild's emojis and stickers: GUILD_EMOJIS_UPDATE and GUILD_STICKERS_UPDATE, each the
//! whole set, replacing the cached one.

use super::guild::by_id;
use super::raw::{RawObject, Shape, objects};
use super::{Plan, Planner, push_hash};
use crate::projection::Op;

impl Planner {
    /// GUILD_EMOJIS_UPDATE: the guild's emojis, replaced.
    pub(super) fn emojis_update(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let key = self.keys.guild_emojis(d.id("guild_id", "d")?);
        Ok(replace_set(key, by_id(&objects(d, "emojis")?, "emojis[]")?))
    }

    /// GUILD_STICKERS_UPDATE: the guild's stickers, replaced.
    pub(super) fn stickers_update(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let key = self.keys.guild_stickers(d.id("guild_id", "d")?);
        Ok(replace_set(
            key,
            by_id(&objects(d, "stickers")?, "stickers[]")?,
        ))
    }
}

/// The hash `key` replaced by `pairs`.
fn replace_set(key: String, pairs: Vec<(String, String)>) -> Plan {
    let mut ops = vec![Op::Del(key.clone())];
    push_hash(&mut ops, key, pairs);
    Plan::Ops(ops)
}
