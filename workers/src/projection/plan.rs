//! Turns one dispatch into the writes that project it ([`Op`]s), mirroring what
//! twilight-cache-inmemory does with the same event, in the key layout of
//! [`ddiscord::cache::keys`].
//!
//! Event shapes: <https://discord.com/developers/docs/events/gateway-events#receive-events>.

use ddiscord::Envelope;
use ddiscord::cache::Keys;
use ddiscord::cache::keys::state_field;
use serde::Serialize;
use serde::de::DeserializeSeed;
use serde_json::Value;
use twilight_model::channel::{Channel, Message};
use twilight_model::gateway::event::{DispatchEvent, DispatchEventWithTypeDeserializer};
use twilight_model::gateway::payload::incoming::{
    ChannelPinsUpdate, GuildCreate, GuildUpdate, MemberUpdate,
};
use twilight_model::guild::{Guild, Member, PartialMember};
use twilight_model::user::User;

use super::ProjectionError;
use super::ops::Op;

/// What the projection caches beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionConfig {
    /// Cache presences (GUILD_CREATE `presences`, PRESENCE_UPDATE, chunk presences). They are
    /// the bulk of a large guild's traffic; off by default.
    pub cache_presences: bool,
    /// Messages kept per channel; 0 turns the message cache off.
    pub message_cache: usize,
}

/// Why a dispatch was not projected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not a dispatch (op ≠ 0).
    NotDispatch,
    /// A dispatch twilight-model does not know (e.g. Discord's undocumented events).
    Unknown,
    /// A known dispatch that does not change the cache (typing, reactions, interactions, …,
    /// or presences/messages when their cache is off).
    NotCached,
}

impl Skip {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Skip::NotDispatch => "not_dispatch",
            Skip::Unknown => "unknown",
            Skip::NotCached => "not_cached",
        }
    }
}

/// The plan for one dispatch.
#[derive(Debug)]
pub enum Plan {
    /// Apply these writes atomically (after the sequence guard).
    Ops(Vec<Op>),
    /// A GUILD_UPDATE: merge into the cached guild, which must be read first
    /// ([`Planner::guild_update`]).
    GuildUpdate(Box<GuildUpdate>),
    /// A CHANNEL_PINS_UPDATE: set `last_pin_timestamp` of the cached channel, which must be read
    /// first ([`Planner::pins_update`]).
    PinsUpdate(ChannelPinsUpdate),
    /// Nothing to write (the sequence still advances).
    Skip(Skip),
}

/// Plans the writes of dispatches.
#[derive(Debug, Clone)]
pub struct Planner {
    keys: Keys,
    config: ProjectionConfig,
}

fn json<T: Serialize>(event: &str, value: &T) -> Result<String, ProjectionError> {
    serde_json::to_string(value).map_err(|source| ProjectionError::Encode {
        event: event.to_owned(),
        source,
    })
}

/// A member as stored: the member object without `user` (users are global). Mirrors the
/// serialisation of twilight-model's `Member` field for field, borrowing instead of copying.
#[derive(Serialize)]
struct StoredMember<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar: Option<&'a twilight_model::util::ImageHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar_decoration_data: Option<&'a twilight_model::user::AvatarDecorationData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    banner: Option<&'a twilight_model::util::ImageHash>,
    communication_disabled_until: Option<twilight_model::util::Timestamp>,
    deaf: bool,
    flags: twilight_model::guild::MemberFlags,
    joined_at: Option<twilight_model::util::Timestamp>,
    mute: bool,
    nick: Option<&'a str>,
    pending: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    premium_since: Option<twilight_model::util::Timestamp>,
    roles: &'a [twilight_model::id::Id<twilight_model::id::marker::RoleMarker>],
}

fn member_json(event: &str, member: &Member) -> Result<String, ProjectionError> {
    let stored = StoredMember {
        avatar: member.avatar.as_ref(),
        avatar_decoration_data: member.avatar_decoration_data.as_ref(),
        banner: member.banner.as_ref(),
        communication_disabled_until: member.communication_disabled_until,
        deaf: member.deaf,
        flags: member.flags,
        joined_at: member.joined_at,
        mute: member.mute,
        nick: member.nick.as_deref(),
        pending: member.pending,
        premium_since: member.premium_since,
        roles: &member.roles,
    };
    json(event, &stored)
}

fn id<T>(id: twilight_model::id::Id<T>) -> String {
    id.get().to_string()
}

impl Planner {
    /// A planner writing under `keys`.
    pub fn new(keys: Keys, config: ProjectionConfig) -> Self {
        Self { keys, config }
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The configuration.
    pub fn config(&self) -> &ProjectionConfig {
        &self.config
    }

    /// Plans `envelope`.
    ///
    /// # Errors
    /// [`ProjectionError::Payload`] when `d` does not match the event's documented shape (the
    /// event is counted and skipped, never half-applied).
    pub fn plan(&self, envelope: &Envelope) -> Result<Plan, ProjectionError> {
        if envelope.op() != 0 {
            return Ok(Plan::Skip(Skip::NotDispatch));
        }
        let Some(name) = envelope.event() else {
            return Ok(Plan::Skip(Skip::NotDispatch));
        };
        let mut de = serde_json::Deserializer::from_slice(envelope.d_bytes());
        let event = match DispatchEventWithTypeDeserializer::new(name).deserialize(&mut de) {
            Ok(event) => event,
            Err(e) if e.to_string().contains(&format!("unknown variant `{name}`")) => {
                return Ok(Plan::Skip(Skip::Unknown));
            }
            Err(source) => {
                return Err(ProjectionError::Payload {
                    event: name.to_owned(),
                    source,
                });
            }
        };
        self.plan_event(name, envelope.shard(), event)
    }

    #[allow(clippy::too_many_lines)]
    fn plan_event(
        &self,
        name: &str,
        _shard: u32,
        event: DispatchEvent,
    ) -> Result<Plan, ProjectionError> {
        let k = &self.keys;
        let mut ops = Vec::new();
        match event {
            DispatchEvent::Ready(ready) => {
                ops.push(Op::Set(k.current_user(), json(name, &ready.user)?));
                ops.push(Op::Ready(ready.guilds.iter().map(|g| g.id.get()).collect()));
            }
            DispatchEvent::UserUpdate(user) => {
                ops.push(Op::Set(k.current_user(), json(name, &user.0)?));
            }
            DispatchEvent::GuildCreate(create) => match *create {
                GuildCreate::Available(guild) => self.guild_create(name, guild, &mut ops)?,
                GuildCreate::Unavailable(u) => {
                    ops.push(Op::Register(u.id.get()));
                    ops.push(Op::HSet(
                        k.guild_state(u.id.get()),
                        vec![(state_field::UNAVAILABLE.into(), "1".into())],
                    ));
                }
            },
            DispatchEvent::GuildUpdate(update) => return Ok(Plan::GuildUpdate(update)),
            DispatchEvent::ChannelPinsUpdate(pins) => {
                return Ok(Plan::PinsUpdate(pins));
            }
            DispatchEvent::GuildDelete(delete) => {
                let g = delete.id.get();
                if delete.unavailable == Some(true) {
                    // An outage: keep the data, flag it.
                    ops.push(Op::HSet(
                        k.guild_state(g),
                        vec![(state_field::UNAVAILABLE.into(), "1".into())],
                    ));
                } else {
                    ops.push(Op::DelGuild {
                        guild: g,
                        keep_messages: false,
                    });
                    ops.push(Op::Unregister(g));
                }
            }
            DispatchEvent::ChannelCreate(c) => self.channel_upsert(name, c.0, &mut ops)?,
            DispatchEvent::ChannelUpdate(c) => self.channel_upsert(name, c.0, &mut ops)?,
            DispatchEvent::ThreadCreate(c) => self.channel_upsert(name, c.0, &mut ops)?,
            DispatchEvent::ThreadUpdate(c) => self.channel_upsert(name, c.0, &mut ops)?,
            DispatchEvent::ChannelDelete(c) => match c.0.guild_id {
                Some(g) => ops.push(Op::DelChannel {
                    guild: g.get(),
                    channel: c.0.id.get(),
                }),
                None => return Ok(Plan::Skip(Skip::NotCached)),
            },
            DispatchEvent::ThreadDelete(t) => ops.push(Op::DelChannel {
                guild: t.guild_id.get(),
                channel: t.id.get(),
            }),
            DispatchEvent::ThreadListSync(sync) => {
                for thread in sync.threads {
                    let mut thread = thread;
                    thread.guild_id = Some(sync.guild_id);
                    self.channel_upsert(name, thread, &mut ops)?;
                }
                for member in sync.members {
                    if let (Some(thread), Some(user)) = (member.id, member.user_id) {
                        self.thread_indexed(sync.guild_id.get(), thread.get(), &mut ops);
                        ops.push(Op::HSet(
                            k.thread_members(sync.guild_id.get(), thread.get()),
                            vec![(id(user), json(name, &member)?)],
                        ));
                    }
                }
            }
            DispatchEvent::ThreadMemberUpdate(update) => {
                let member = &update.member;
                if let (Some(thread), Some(user)) = (member.id, member.user_id) {
                    self.thread_indexed(update.guild_id.get(), thread.get(), &mut ops);
                    ops.push(Op::HSet(
                        k.thread_members(update.guild_id.get(), thread.get()),
                        vec![(id(user), json(name, member)?)],
                    ));
                }
            }
            DispatchEvent::ThreadMembersUpdate(update) => {
                let key = k.thread_members(update.guild_id.get(), update.id.get());
                let mut added = Vec::new();
                for member in &update.added_members {
                    if let Some(user) = member.user_id {
                        added.push((id(user), json(name, member)?));
                    }
                }
                if !added.is_empty() {
                    self.thread_indexed(update.guild_id.get(), update.id.get(), &mut ops);
                    ops.push(Op::HSet(key.clone(), added));
                }
                if !update.removed_member_ids.is_empty() {
                    ops.push(Op::HDel(
                        key,
                        update.removed_member_ids.iter().map(|u| id(*u)).collect(),
                    ));
                }
            }
            DispatchEvent::RoleCreate(r) => ops.push(Op::HSet(
                k.guild_roles(r.guild_id.get()),
                vec![(id(r.role.id), json(name, &r.role)?)],
            )),
            DispatchEvent::RoleUpdate(r) => ops.push(Op::HSet(
                k.guild_roles(r.guild_id.get()),
                vec![(id(r.role.id), json(name, &r.role)?)],
            )),
            DispatchEvent::RoleDelete(r) => ops.push(Op::HDel(
                k.guild_roles(r.guild_id.get()),
                vec![id(r.role_id)],
            )),
            DispatchEvent::MemberAdd(add) => {
                let g = add.guild_id.get();
                ops.push(Op::HIncrIfExists(
                    k.guild_state(g),
                    state_field::MEMBER_COUNT.into(),
                    1,
                ));
                self.members(name, g, std::slice::from_ref(&add.member), &mut ops)?;
            }
            DispatchEvent::MemberRemove(remove) => {
                let g = remove.guild_id.get();
                ops.push(Op::HIncrIfExists(
                    k.guild_state(g),
                    state_field::MEMBER_COUNT.into(),
                    -1,
                ));
                ops.push(Op::HDel(k.guild_members(g), vec![id(remove.user.id)]));
            }
            DispatchEvent::MemberUpdate(update) => ops.push(self.member_update(name, &update)?),
            DispatchEvent::MemberChunk(chunk) => {
                let g = chunk.guild_id.get();
                self.members(name, g, &chunk.members, &mut ops)?;
                if self.config.cache_presences && !chunk.presences.is_empty() {
                    let mut pairs = Vec::with_capacity(chunk.presences.len());
                    for p in &chunk.presences {
                        pairs.push((id(p.user.id()), json(name, p)?));
                    }
                    ops.push(Op::HSet(k.guild_presences(g), pairs));
                }
                if chunk.nonce.is_none() && chunk.chunk_index + 1 >= chunk.chunk_count {
                    ops.push(Op::HSet(
                        k.guild_state(g),
                        vec![(state_field::MEMBERS_CHUNKED.into(), "1".into())],
                    ));
                }
            }
            DispatchEvent::PresenceUpdate(p) if self.config.cache_presences => {
                ops.push(Op::HSet(
                    k.guild_presences(p.guild_id.get()),
                    vec![(id(p.user.id()), json(name, &p.0)?)],
                ));
            }
            DispatchEvent::VoiceStateUpdate(v) => {
                let state = v.0;
                let Some(g) = state.guild_id else {
                    return Ok(Plan::Skip(Skip::NotCached));
                };
                let key = k.guild_voice_states(g.get());
                if state.channel_id.is_some() {
                    ops.push(Op::HSet(
                        key,
                        vec![(id(state.user_id), json(name, &state)?)],
                    ));
                } else {
                    ops.push(Op::HDel(key, vec![id(state.user_id)]));
                }
                if let Some(member) = &state.member {
                    self.members(name, g.get(), std::slice::from_ref(member), &mut ops)?;
                }
            }
            DispatchEvent::GuildEmojisUpdate(e) => {
                let key = k.guild_emojis(e.guild_id.get());
                ops.push(Op::Del(key.clone()));
                let mut pairs = Vec::with_capacity(e.emojis.len());
                for emoji in &e.emojis {
                    pairs.push((id(emoji.id), json(name, emoji)?));
                }
                if !pairs.is_empty() {
                    ops.push(Op::HSet(key, pairs));
                }
            }
            DispatchEvent::GuildStickersUpdate(s) => {
                let key = k.guild_stickers(s.guild_id.get());
                ops.push(Op::Del(key.clone()));
                let mut pairs = Vec::with_capacity(s.stickers.len());
                for sticker in &s.stickers {
                    pairs.push((id(sticker.id), json(name, sticker)?));
                }
                if !pairs.is_empty() {
                    ops.push(Op::HSet(key, pairs));
                }
            }
            DispatchEvent::StageInstanceCreate(s) => ops.push(Op::HSet(
                k.guild_stage_instances(s.0.guild_id.get()),
                vec![(id(s.0.id), json(name, &s.0)?)],
            )),
            DispatchEvent::StageInstanceUpdate(s) => ops.push(Op::HSet(
                k.guild_stage_instances(s.0.guild_id.get()),
                vec![(id(s.0.id), json(name, &s.0)?)],
            )),
            DispatchEvent::StageInstanceDelete(s) => ops.push(Op::HDel(
                k.guild_stage_instances(s.0.guild_id.get()),
                vec![id(s.0.id)],
            )),
            DispatchEvent::GuildScheduledEventCreate(e) => ops.push(Op::HSet(
                k.guild_scheduled_events(e.0.guild_id.get()),
                vec![(id(e.0.id), json(name, &e.0)?)],
            )),
            DispatchEvent::GuildScheduledEventUpdate(e) => ops.push(Op::HSet(
                k.guild_scheduled_events(e.0.guild_id.get()),
                vec![(id(e.0.id), json(name, &e.0)?)],
            )),
            DispatchEvent::GuildScheduledEventDelete(e) => ops.push(Op::HDel(
                k.guild_scheduled_events(e.0.guild_id.get()),
                vec![id(e.0.id)],
            )),
            DispatchEvent::MessageCreate(m) => self.message_create(name, m.message, &mut ops)?,
            // MESSAGE_UPDATE carries the whole message (API v10): cached as a create would be,
            // as twilight-cache-inmemory does.
            DispatchEvent::MessageUpdate(m) => self.message_create(name, m.0, &mut ops)?,
            DispatchEvent::MessageDelete(m) if self.config.message_cache > 0 => {
                ops.push(Op::MessageDel {
                    channel: m.channel_id.get(),
                    messages: vec![m.id.get()],
                });
            }
            DispatchEvent::MessageDeleteBulk(m) if self.config.message_cache > 0 => {
                ops.push(Op::MessageDel {
                    channel: m.channel_id.get(),
                    messages: m.ids.iter().map(|i| i.get()).collect(),
                });
            }
            _ => return Ok(Plan::Skip(Skip::NotCached)),
        }
        Ok(Plan::Ops(ops))
    }

    fn guild_create(
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

    fn members(
        &self,
        name: &str,
        guild: u64,
        members: &[Member],
        ops: &mut Vec<Op>,
    ) -> Result<(), ProjectionError> {
        if members.is_empty() {
            return Ok(());
        }
        let mut pairs = Vec::with_capacity(members.len());
        let mut users = Vec::with_capacity(members.len());
        for member in members {
            pairs.push((id(member.user.id), member_json(name, member)?));
            users.push((
                self.keys.user(member.user.id.get()),
                json(name, &member.user)?,
            ));
        }
        ops.push(Op::HSet(self.keys.guild_members(guild), pairs));
        ops.push(Op::MSet(users));
        Ok(())
    }

    fn member_update(&self, name: &str, update: &MemberUpdate) -> Result<Op, ProjectionError> {
        let member = Member {
            avatar: update.avatar,
            avatar_decoration_data: None,
            banner: None,
            communication_disabled_until: update.communication_disabled_until,
            deaf: update.deaf.unwrap_or_default(),
            flags: update
                .flags
                .unwrap_or(twilight_model::guild::MemberFlags::empty()),
            joined_at: update.joined_at,
            mute: update.mute.unwrap_or_default(),
            nick: update.nick.clone(),
            pending: update.pending,
            premium_since: update.premium_since,
            roles: update.roles.clone(),
            user: update.user.clone(),
        };
        let mut value =
            serde_json::to_value(&member).map_err(|source| ProjectionError::Encode {
                event: name.to_owned(),
                source,
            })?;
        if let Value::Object(map) = &mut value {
            map.remove("user");
            if update.deaf.is_none() {
                map.remove("deaf");
            }
            if update.mute.is_none() {
                map.remove("mute");
            }
        }
        Ok(Op::MemberUpdate {
            key: self.keys.guild_members(update.guild_id.get()),
            field: id(update.user.id),
            json: value.to_string(),
            keep_deaf: update.deaf.is_none(),
            keep_mute: update.mute.is_none(),
            user_key: self.keys.user(update.user.id.get()),
            user_json: json(name, &update.user)?,
        })
    }

    /// Records that the thread has a members hash, so deleting the guild finds it.
    fn thread_indexed(&self, guild: u64, thread: u64, ops: &mut Vec<Op>) {
        ops.push(Op::HSet(
            self.keys.guild_thread_index(guild),
            vec![(thread.to_string(), "1".to_owned())],
        ));
    }

    fn channel_upsert(
        &self,
        name: &str,
        channel: Channel,
        ops: &mut Vec<Op>,
    ) -> Result<(), ProjectionError> {
        // Direct-message channels are not cached (no guild to file them under).
        let Some(g) = channel.guild_id else {
            return Ok(());
        };
        ops.push(Op::HSet(
            self.keys.guild_channels(g.get()),
            vec![(id(channel.id), json(name, &channel)?)],
        ));
        ops.push(Op::HSet(
            self.keys.channel_guild(),
            vec![(id(channel.id), g.get().to_string())],
        ));
        Ok(())
    }

    fn message_create(
        &self,
        name: &str,
        message: Message,
        ops: &mut Vec<Op>,
    ) -> Result<(), ProjectionError> {
        // As twilight-cache-inmemory: the author is cached, and in a guild its member.
        ops.push(Op::Set(
            self.keys.user(message.author.id.get()),
            json(name, &message.author)?,
        ));
        if let (Some(g), Some(member)) = (message.guild_id, &message.member) {
            ops.push(Op::HSet(
                self.keys.guild_members(g.get()),
                vec![(
                    id(message.author.id),
                    partial_member_json(name, member, &message.author)?,
                )],
            ));
        }
        if self.config.message_cache > 0 {
            ops.push(Op::MessageAdd {
                channel: message.channel_id.get(),
                message: message.id.get(),
                json: json(name, &message)?,
                limit: self.config.message_cache,
            });
        }
        Ok(())
    }

    /// Plans a GUILD_UPDATE against the cached guild (`cached`: the value of `guild:<g>`).
    /// Fields the update carries replace the cached ones; a guild that is not cached is not
    /// created (as twilight-cache-inmemory).
    ///
    /// # Errors
    /// [`ProjectionError::Encode`] when the cached value is not a guild object.
    pub fn guild_update(
        &self,
        update: &GuildUpdate,
        cached: Option<&str>,
    ) -> Result<Vec<Op>, ProjectionError> {
        let name = "GUILD_UPDATE";
        let Some(cached) = cached else {
            return Ok(Vec::new());
        };
        let encode = |source| ProjectionError::Encode {
            event: name.to_owned(),
            source,
        };
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

impl Planner {
    /// Plans a CHANNEL_PINS_UPDATE against the cached channel (`cached`: its value in
    /// `guild:<guild>:channels`, the guild found through `channel-guild` when the event lacks
    /// it); a channel that is not cached is not created.
    ///
    /// # Errors
    /// [`ProjectionError::Encode`] when the cached value is not a channel object.
    pub fn pins_update(
        &self,
        pins: &ChannelPinsUpdate,
        guild: u64,
        cached: Option<&str>,
    ) -> Result<Vec<Op>, ProjectionError> {
        let Some(cached) = cached else {
            return Ok(Vec::new());
        };
        let encode = |source| ProjectionError::Encode {
            event: "CHANNEL_PINS_UPDATE".to_owned(),
            source,
        };
        let mut channel: Channel = serde_json::from_str(cached).map_err(encode)?;
        channel.last_pin_timestamp = pins.last_pin_timestamp;
        Ok(vec![Op::HSet(
            self.keys.guild_channels(guild),
            vec![(
                id(channel.id),
                serde_json::to_string(&channel).map_err(encode)?,
            )],
        )])
    }
}

fn push_hash(ops: &mut Vec<Op>, key: String, pairs: Vec<(String, String)>) {
    if !pairs.is_empty() {
        ops.push(Op::HSet(key, pairs));
    }
}

/// A message's partial member, stored in the member shape (without `user`).
fn partial_member_json(
    name: &str,
    member: &PartialMember,
    author: &User,
) -> Result<String, ProjectionError> {
    let full = Member {
        avatar: member.avatar,
        avatar_decoration_data: member.avatar_decoration_data.clone(),
        banner: member.banner,
        communication_disabled_until: member.communication_disabled_until,
        deaf: member.deaf,
        flags: member.flags,
        joined_at: member.joined_at,
        mute: member.mute,
        nick: member.nick.clone(),
        pending: false,
        premium_since: member.premium_since,
        roles: member.roles.clone(),
        user: author.clone(),
    };
    member_json(name, &full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_member_is_member_without_user() {
        let text = r#"{"avatar":null,"communication_disabled_until":null,"deaf":false,"flags":2,"joined_at":"2021-01-01T00:00:00.000000+00:00","mute":true,"nick":"n","pending":false,"premium_since":"2022-01-01T00:00:00.000000+00:00","roles":["5","6"],"user":{"id":"7","username":"u","discriminator":"0","avatar":null,"global_name":null}}"#;
        let member: Member = serde_json::from_str(text).unwrap();
        let mut expected = serde_json::to_value(&member).unwrap();
        expected.as_object_mut().unwrap().remove("user");
        let ours: Value = serde_json::from_str(&member_json("T", &member).unwrap()).unwrap();
        assert_eq!(ours, expected);
    }
}
