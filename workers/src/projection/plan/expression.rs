//! A guild's emojis and stickers: GUILD_EMOJIS_UPDATE and GUILD_STICKERS_UPDATE, each the
//! whole set, replacing the cached one.

use twilight_model::gateway::payload::incoming::{GuildEmojisUpdate, GuildStickersUpdate};

use super::{Plan, Planner, id, json, push_hash};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// GUILD_EMOJIS_UPDATE: the guild's emojis, replaced.
    pub(super) fn emojis_update(
        &self,
        name: &str,
        update: &GuildEmojisUpdate,
    ) -> Result<Plan, ProjectionError> {
        let key = self.keys.guild_emojis(update.guild_id.get());
        let mut ops = vec![Op::Del(key.clone())];
        let mut pairs = Vec::with_capacity(update.emojis.len());
        for emoji in &update.emojis {
            pairs.push((id(emoji.id), json(name, emoji)?));
        }
        push_hash(&mut ops, key, pairs);
        Ok(Plan::Ops(ops))
    }

    /// GUILD_STICKERS_UPDATE: the guild's stickers, replaced.
    pub(super) fn stickers_update(
        &self,
        name: &str,
        update: &GuildStickersUpdate,
    ) -> Result<Plan, ProjectionError> {
        let key = self.keys.guild_stickers(update.guild_id.get());
        let mut ops = vec![Op::Del(key.clone())];
        let mut pairs = Vec::with_capacity(update.stickers.len());
        for sticker in &update.stickers {
            pairs.push((id(sticker.id), json(name, sticker)?));
        }
        push_hash(&mut ops, key, pairs);
        Ok(Plan::Ops(ops))
    }
}
