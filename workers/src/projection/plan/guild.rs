//! Guilds: GUILD_CREATE (the whole guild, replaced in one step), GUILD_UPDATE (merged into the
//! cached guild) and GUILD_DELETE (an outage or a departure).

use ddiscord::cache::keys::state_field;
use serde_json::Value;
use twilight_model::gateway::payload::incoming::{GuildCreate, GuildDelete, GuildUpdate};
use twilight_model::guild::Guild;

use super::{Plan, Planner, encode_error, id, json, push_hash};
use crate::projection::{Op, ProjectionError};

impl Planner {
    /// GUILD_CREATE: an available guild replaces the cached one wholesale; an unavailable one
    /// is registered on the shard and flagged.
    pub(super) fn guild_create(
        &self,
        name: &str,
        create: GuildCreate,
    ) -> Result<Plan, ProjectionError> {
        let mut ops = Vec::new();
        match create {
            GuildCreate::Available(guild) => self.available_guild(name, guild, &mut ops)?,
            GuildCreate::Unavailable(u) => {
                ops.push(Op::Register(u.id.get()));
                ops.push(Op::HSet(
                    self.keys.guild_state(u.id.get()),
                    vec![(state_field::UNAVAILABLE.into(), "1".into())],
                ));
            }
        }
        Ok(Plan::Ops(ops))
    }

    /// GUILD_DELETE: an outage keeps the data and flags it; leaving the guild deletes it.
    pub(super) fn guild_delete(&self, delete: &GuildDelete) -> Plan {
        let g = delete.id.get();
        let ops = if delete.unavailable == Some(true) {
            // An outage: keep the data, flag it.
            vec![Op::HSet(
                self.keys.guild_state(g),
                vec![(state_field::UNAVAILABLE.into(), "1".into())],
            )]
        } else {
            vec![
                Op::DelGuild {
                    guild: g,
                    keep_messages: false,
                },
                Op::Unregister(g),
            ]
        };
        Plan::Ops(ops)
    }

    fn available_guild(
        &self,
        name: &str,
        mut guild: Guild,
        ops: &mut Vec<Op>,
    ) -> Result<(), ProjectionError> {
        let k = &self.keys;
        let g = guild.id.get();
        // Replace the guild wholesale, in the same atomic script: readers see the old or the
        // new guild, never neither. Messages survive (GUILD_CREATE does not carry them).
        ops.push(Op::DelGuild {
            guild: g,
            keep_messages: true,
        });
        let channels = std::mem::take(&mut guild.channels);
        let threads = std::mem::take(&mut guild.threads);
        let members = std::mem::take(&mut guild.members);
        let presences = std::mem::take(&mut guild.presences);
        let roles = std::mem::take(&mut guild.roles);
        let emojis = std::mem::take(&mut guild.emojis);
        let stickers = std::mem::take(&mut guild.stickers);
        let voice_states = std::mem::take(&mut guild.voice_states);
        let stage_instances = std::mem::take(&mut guild.stage_instances);
        let events = std::mem::take(&mut guild.guild_scheduled_events);
        let member_count = guild.member_count;

        ops.push(Op::Set(k.guild(g), json(name, &guild)?));
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

        let mut channel_pairs = Vec::with_capacity(channels.len() + threads.len());
        let mut index = Vec::with_capacity(channels.len() + threads.len());
        for mut channel in channels.into_iter().chain(threads) {
            channel.guild_id = Some(guild.id);
            index.push((id(channel.id), g.to_string()));
            channel_pairs.push((id(channel.id), json(name, &channel)?));
        }
        push_hash(ops, k.guild_channels(g), channel_pairs);
        push_hash(ops, k.channel_guild(), index);

        let mut pairs = Vec::with_capacity(roles.len());
        for role in &roles {
            pairs.push((id(role.id), json(name, role)?));
        }
        push_hash(ops, k.guild_roles(g), pairs);

        self.members(name, g, &members, ops)?;

        if self.config.cache_presences {
            let mut pairs = Vec::with_capacity(presences.len());
            for p in &presences {
                pairs.push((id(p.user.id()), json(name, p)?));
            }
            push_hash(ops, k.guild_presences(g), pairs);
        }

        let mut pairs = Vec::with_capacity(voice_states.len());
        for mut v in voice_states {
            v.guild_id = Some(guild.id);
            pairs.push((id(v.user_id), json(name, &v)?));
        }
        push_hash(ops, k.guild_voice_states(g), pairs);

        let mut pairs = Vec::with_capacity(emojis.len());
        for e in &emojis {
            pairs.push((id(e.id), json(name, e)?));
        }
        push_hash(ops, k.guild_emojis(g), pairs);

        let mut pairs = Vec::with_capacity(stickers.len());
        for s in &stickers {
            pairs.push((id(s.id), json(name, s)?));
        }
        push_hash(ops, k.guild_stickers(g), pairs);

        let mut pairs = Vec::with_capacity(stage_instances.len());
        for s in &stage_instances {
            pairs.push((id(s.id), json(name, s)?));
        }
        push_hash(ops, k.guild_stage_instances(g), pairs);

        let mut pairs = Vec::with_capacity(events.len());
        for e in &events {
            pairs.push((id(e.id), json(name, e)?));
        }
        push_hash(ops, k.guild_scheduled_events(g), pairs);
        Ok(())
    }

    /// Plans a GUILD_UPDATE against the cached guild (`cached`: the value of `guild:<g>`).
    /// Fields the update carries replace the cached ones; a guild that is not cached is not
    /// created (as twilight-cache-inmemory).
    ///
    /// # Errors
    /// [`ProjectionErrorKind::Encode`](crate::projection::ProjectionErrorKind::Encode) when
    /// the cached value is not a guild object.
    pub fn guild_update(
        &self,
        update: &GuildUpdate,
        cached: Option<&str>,
    ) -> Result<Vec<Op>, ProjectionError> {
        let name = "GUILD_UPDATE";
        let Some(cached) = cached else {
            return Ok(Vec::new());
        };
        let encode = |source| encode_error(name, source);
        let mut guild: Value = serde_json::from_str(cached).map_err(encode)?;
        let partial = serde_json::to_value(&update.0).map_err(encode)?;
        if let (Value::Object(guild), Value::Object(partial)) = (&mut guild, partial) {
            for (key, value) in partial {
                // Roles and emojis live in their own hashes; GUILD_UPDATE does not replace
                // them (ROLE and EMOJI events do).
                if key != "roles" && key != "emojis" && guild.contains_key(&key) {
                    guild.insert(key, value);
                }
            }
        }
        // Check that the merge is still a guild before writing it.
        let _: Guild = serde_json::from_value(guild.clone()).map_err(encode)?;
        Ok(vec![Op::Set(
            self.keys.guild(update.0.id.get()),
            guild.to_string(),
        )])
    }
}
