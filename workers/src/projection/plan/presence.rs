//! Presences: PRESENCE_UPDATE, cached only with
//! [`ProjectionConfig::cache_presences`](super::ProjectionConfig::cache_presences).

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::raw::{RawObject, Shape};
use super::{Plan, Planner, Skip};
use crate::projection::Op;

impl Planner {
    /// PRESENCE_UPDATE: the user's presence in the guild (the whole presence, as sent), when
    /// presences are cached. Its `user` is partial (only `id` is guaranteed), so the cached
    /// user is not touched.
    pub(super) fn presence_update(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        if !self.config.cache_presences {
            return Ok(Plan::Skip(Skip::NotCached));
        }
        let g = d.id("guild_id", "d")?;
        let user = d
            .child("user", "d")?
            .ok_or_else(|| Shape("d.user is missing".into()))?
            .id("id", "d.user")?;
        Ok(Plan::Ops(vec![Op::HSet(
            self.keys.guild_presences(g),
            vec![(user.to_string(), d.to_json())],
        )]))
    }
}

/// A presence of a GUILD_CREATE or GUILD_MEMBERS_CHUNK as stored: keyed by its user's id, with
/// the `guild_id` those events leave out (PRESENCE_UPDATE carries it).
pub(super) fn presence_pair<'a>(
    mut presence: RawObject<'a>,
    guild_id: &'a RawValue,
) -> Result<(String, String), Shape> {
    let user = presence
        .child("user", "presences[]")?
        .ok_or_else(|| Shape("presences[].user is missing".into()))?
        .id("id", "presences[].user")?;
    presence.set("guild_id", Cow::Borrowed(guild_id));
    Ok((user.to_string(), presence.to_json()))
}
