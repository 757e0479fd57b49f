//! Guilds: GUILD_CREATE (the whole guild, replaced in one step), GUILD_UPDATE (merged into the
//! cached guild) and GUILD_DELETE (an outage or a departure).

use std::borrow::Cow;

use ddiscord::cache::keys::state_field;

use super::member::member_write;
use super::presence::presence_pair;
use super::raw::{RawObject, Shape, objects};
use super::{Plan, Planner, fields_except, push_hash};
use crate::projection::Op;
use crate::projection::ops::Target;

/// The guild object's collections that live in hashes of their own, not in `guild:<g>`.
pub(super) const COLLECTIONS: &[&str] = &[
    "channels",
    "threads",
    "members",
    "presences",
    "voice_states",
    "roles",
    "emojis",
    "stickers",
    "stage_instances",
    "guild_scheduled_events",
];

impl Planner {
    /// GUILD_CREATE: an available guild replaces the cached one wholesale; an unavailable one
    /// is registered on the shard and flagged.
    pub(super) fn guild_create(&self, d: RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("id", "d")?;
        if d.is_true("unavailable") {
            return Ok(Plan::Ops(vec![
                Op::Register(g),
                Op::HSet(
                    self.keys.guild_state(g),
                    vec![(state_field::UNAVAILABLE.into(), "1".into())],
                ),
                self.flag_unavailable(g),
            ]));
        }
        self.available_guild(g, d).map(Plan::Ops)
    }

    /// GUILD_DELETE: an outage keeps the data and flags it; leaving the guild deletes it.
    pub(super) fn guild_delete(&self, d: &RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("id", "d")?;
        let ops = if d.is_true("unavailable") {
            vec![
                Op::HSet(
                    self.keys.guild_state(g),
                    vec![(state_field::UNAVAILABLE.into(), "1".into())],
                ),
                self.flag_unavailable(g),
            ]
        } else {
            vec![
                Op::DelGuild {
                    guild: g,
                    keep_messages: false,
                },
                Op::Unregister(g),
            ]
        };
        Ok(Plan::Ops(ops))
    }

    /// Sets `unavailable: true` in the cached guild object (kept as last known during an
    /// outage), so plain Redis readers see it too; the next available GUILD_CREATE replaces it.
    fn flag_unavailable(&self, g: u64) -> Op {
        Op::Merge {
            target: Target::Key(self.keys.guild(g)),
            // Field names are JSON strings, as `RawObject::to_pairs` gives them.
            fields: vec![("\"unavailable\"".into(), "true".into())],
            create: false,
        }
    }

    /// GUILD_UPDATE: the fields it carries replace the cached guild's (its collections are
    /// not touched: their own events keep them); a guild that is not cached is not created,
    /// as twilight-cache-inmemory.
    pub(super) fn guild_update(&self, d: RawObject<'_>) -> Result<Plan, Shape> {
        let g = d.id("id", "d")?;
        Ok(Plan::Ops(vec![Op::Merge {
            target: Target::Key(self.keys.guild(g)),
            fields: fields_except(&d, COLLECTIONS),
            create: false,
        }]))
    }

    fn available_guild(&self, g: u64, mut guild: RawObject<'_>) -> Result<Vec<Op>, Shape> {
        let k = &self.keys;
        let mut ops = Vec::new();
        let guild_id = guild
            .get_borrowed("id")
            .ok_or_else(|| Shape("d.id is missing".into()))?;
        // Replace the guild wholesale, in the same atomic script: readers see the old or the
        // new guild, never neither. Messages survive (GUILD_CREATE does not carry them).
        ops.push(Op::DelGuild {
            guild: g,
            keep_messages: true,
        });
        let channels = objects(&guild, "channels")?;
        let threads = objects(&guild, "threads")?;
        let members = objects(&guild, "members")?;
        // Presences are split only when cached: they are most of a large guild's payload.
        let presences = if self.config.cache_presences {
            objects(&guild, "presences")?
        } else {
            Vec::new()
        };
        let roles = objects(&guild, "roles")?;
        let emojis = objects(&guild, "emojis")?;
        let stickers = objects(&guild, "stickers")?;
        let voice_states = objects(&guild, "voice_states")?;
        let stage_instances = objects(&guild, "stage_instances")?;
        let events = objects(&guild, "guild_scheduled_events")?;
        for key in COLLECTIONS {
            guild.take(key);
        }
        let member_count = guild
            .get("member_count")
            .and_then(|v| v.get().parse::<u64>().ok());

        ops.push(Op::Set(k.guild(g), guild.to_json()));
        ops.push(Op::Register(g));
        let chunked = member_count.is_none_or(|c| members.len() as u64 >= c);
        let mut state = vec![
            (state_field::COMPLETE.to_owned(), "1".to_owned()),
            (state_field::UNAVAILABLE.to_owned(), "0".to_owned()),
            (
                state_field::MEMBERS_CHUNKED.to_owned(),
                if chunked { "1" } else { "0" }.to_owned(),
            ),
        ];
        if let Some(count) = member_count {
            state.push((state_field::MEMBER_COUNT.to_owned(), count.to_string()));
        }
        ops.push(Op::HSet(k.guild_state(g), state));

        // Channels and threads in GUILD_CREATE lack `guild_id`: it is added, so every cached
        // channel has the shape of CHANNEL_CREATE's.
        let mut channel_pairs = Vec::with_capacity(channels.len() + threads.len());
        let mut index = Vec::with_capacity(channels.len() + threads.len());
        for mut channel in channels.into_iter().chain(threads) {
            let c = channel.id("id", "channels[]")?;
            channel.set("guild_id", Cow::Borrowed(guild_id));
            index.push((c.to_string(), g.to_string()));
            channel_pairs.push((c.to_string(), channel.to_json()));
        }
        push_hash(&mut ops, k.guild_channels(g), channel_pairs);
        push_hash(&mut ops, k.channel_guild(), index);

        push_hash(&mut ops, k.guild_roles(g), by_id(&roles, "roles[]")?);

        let mut writes = Vec::with_capacity(members.len());
        for member in members {
            writes.push(member_write(member)?);
        }
        if !writes.is_empty() {
            ops.push(Op::MemberSet {
                guild: g,
                members: writes,
            });
        }

        if self.config.cache_presences {
            let pairs = presences
                .into_iter()
                .map(|p| presence_pair(p, guild_id))
                .collect::<Result<Vec<_>, _>>()?;
            push_hash(&mut ops, k.guild_presences(g), pairs);
        }

        // Voice states as VOICE_STATE_UPDATE stores them: with `guild_id`, without `member`.
        let mut pairs = Vec::with_capacity(voice_states.len());
        for mut v in voice_states {
            let user = v.id("user_id", "voice_states[]")?;
            v.set("guild_id", Cow::Borrowed(guild_id));
            v.take("member");
            pairs.push((user.to_string(), v.to_json()));
        }
        push_hash(&mut ops, k.guild_voice_states(g), pairs);

        push_hash(&mut ops, k.guild_emojis(g), by_id(&emojis, "emojis[]")?);
        push_hash(
            &mut ops,
            k.guild_stickers(g),
            by_id(&stickers, "stickers[]")?,
        );
        push_hash(
            &mut ops,
            k.guild_stage_instances(g),
            by_id(&stage_instances, "stage_instances[]")?,
        );
        push_hash(
            &mut ops,
            k.guild_scheduled_events(g),
            by_id(&events, "guild_scheduled_events[]")?,
        );
        Ok(ops)
    }
}

/// `(id, object)` pairs of `items`, keyed by their `id`.
pub(super) fn by_id(items: &[RawObject<'_>], what: &str) -> Result<Vec<(String, String)>, Shape> {
    items
        .iter()
        .map(|item| Ok((item.id("id", what)?.to_string(), item.to_json())))
        .collect()
}
