//! Turns one dispatch into the writes that project it ([`Op`]s), mirroring what
//! twilight-cache-inmemory does with the same event, in the key layout of
//! [`ddiscord::cache::keys`].
//!
//! [`Planner::plan`] parses the dispatch and hands it to the module of its family, which alone
//! knows how that family is cached:
//!
//! | module | dispatches |
//! |---|---|
//! | `user` | READY, USER_UPDATE (the current user) |
//! | `guild` | GUILD_CREATE, GUILD_UPDATE, GUILD_DELETE |
//! | `channel` | CHANNEL_CREATE, CHANNEL_UPDATE, CHANNEL_DELETE, CHANNEL_PINS_UPDATE |
//! | `thread` | THREAD_CREATE, THREAD_UPDATE, THREAD_DELETE, THREAD_LIST_SYNC, THREAD_MEMBER(S)_UPDATE |
//! | `role` | GUILD_ROLE_CREATE, GUILD_ROLE_UPDATE, GUILD_ROLE_DELETE |
//! | `member` | GUILD_MEMBER_ADD, GUILD_MEMBER_REMOVE, GUILD_MEMBER_UPDATE, GUILD_MEMBERS_CHUNK |
//! | `presence` | PRESENCE_UPDATE |
//! | `voice` | VOICE_STATE_UPDATE |
//! | `expression` | GUILD_EMOJIS_UPDATE, GUILD_STICKERS_UPDATE |
//! | `stage` | STAGE_INSTANCE_CREATE, STAGE_INSTANCE_UPDATE, STAGE_INSTANCE_DELETE |
//! | `scheduled_event` | GUILD_SCHEDULED_EVENT_CREATE, GUILD_SCHEDULED_EVENT_UPDATE, GUILD_SCHEDULED_EVENT_DELETE |
//! | `message` | MESSAGE_CREATE, MESSAGE_UPDATE, MESSAGE_DELETE, MESSAGE_DELETE_BULK |
//!
//! Every other dispatch twilight-model knows is [`Skip::NotCached`]; a name it does not know is
//! [`Skip::Unknown`].
//!
//! Event shapes: <https://discord.com/developers/docs/events/gateway-events#receive-events>.

mod channel;
mod expression;
mod guild;
mod member;
mod message;
mod presence;
mod role;
mod scheduled_event;
mod stage;
mod thread;
mod user;
mod voice;

use ddiscord::Envelope;
use ddiscord::cache::Keys;
use serde::Serialize;
use serde::de::DeserializeSeed;
use twilight_model::gateway::event::{DispatchEvent, DispatchEventWithTypeDeserializer};
use twilight_model::gateway::payload::incoming::{ChannelPinsUpdate, GuildUpdate};

use super::ops::Op;
use super::{ProjectionError, ProjectionErrorKind};

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
    /// [`ProjectionErrorKind::Payload`] when `d` does not match the event's documented shape
    /// (the event is counted and skipped, never half-applied).
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
            Err(_) if !twilight_knows(name) => return Ok(Plan::Skip(Skip::Unknown)),
            Err(source) => {
                return Err(ProjectionError::with_source(
                    ProjectionErrorKind::Payload {
                        event: name.to_owned(),
                    },
                    source,
                ));
            }
        };
        self.dispatch(name, event)
    }

    /// Hands `event` to the module of its family.
    fn dispatch(&self, name: &str, event: DispatchEvent) -> Result<Plan, ProjectionError> {
        match event {
            DispatchEvent::Ready(ready) => self.ready(name, &ready),
            DispatchEvent::UserUpdate(user) => self.user_update(name, &user),
            DispatchEvent::GuildCreate(create) => self.guild_create(name, *create),
            DispatchEvent::GuildUpdate(update) => Ok(Plan::GuildUpdate(update)),
            DispatchEvent::GuildDelete(delete) => Ok(self.guild_delete(&delete)),
            DispatchEvent::ChannelCreate(c) => self.channel_upsert(name, c.0),
            DispatchEvent::ChannelUpdate(c) => self.channel_upsert(name, c.0),
            DispatchEvent::ChannelDelete(c) => Ok(self.channel_delete(&c.0)),
            DispatchEvent::ChannelPinsUpdate(pins) => Ok(Plan::PinsUpdate(pins)),
            DispatchEvent::ThreadCreate(c) => self.channel_upsert(name, c.0),
            DispatchEvent::ThreadUpdate(c) => self.channel_upsert(name, c.0),
            DispatchEvent::ThreadDelete(t) => Ok(self.thread_delete(&t)),
            DispatchEvent::ThreadListSync(sync) => self.thread_list_sync(name, sync),
            DispatchEvent::ThreadMemberUpdate(update) => self.thread_member_update(name, &update),
            DispatchEvent::ThreadMembersUpdate(update) => self.thread_members_update(name, &update),
            DispatchEvent::RoleCreate(r) => self.role_upsert(name, r.guild_id, &r.role),
            DispatchEvent::RoleUpdate(r) => self.role_upsert(name, r.guild_id, &r.role),
            DispatchEvent::RoleDelete(r) => Ok(self.role_delete(&r)),
            DispatchEvent::MemberAdd(add) => self.member_add(name, &add),
            DispatchEvent::MemberRemove(remove) => Ok(self.member_remove(&remove)),
            DispatchEvent::MemberUpdate(update) => self.member_update(name, &update),
            DispatchEvent::MemberChunk(chunk) => self.member_chunk(name, &chunk),
            DispatchEvent::PresenceUpdate(p) => self.presence_update(name, &p),
            DispatchEvent::VoiceStateUpdate(v) => self.voice_state_update(name, v.0),
            DispatchEvent::GuildEmojisUpdate(e) => self.emojis_update(name, &e),
            DispatchEvent::GuildStickersUpdate(s) => self.stickers_update(name, &s),
            DispatchEvent::StageInstanceCreate(s) => self.stage_instance_upsert(name, &s.0),
            DispatchEvent::StageInstanceUpdate(s) => self.stage_instance_upsert(name, &s.0),
            DispatchEvent::StageInstanceDelete(s) => Ok(self.stage_instance_delete(&s.0)),
            DispatchEvent::GuildScheduledEventCreate(e) => self.scheduled_event_upsert(name, &e.0),
            DispatchEvent::GuildScheduledEventUpdate(e) => self.scheduled_event_upsert(name, &e.0),
            DispatchEvent::GuildScheduledEventDelete(e) => Ok(self.scheduled_event_delete(&e.0)),
            DispatchEvent::MessageCreate(m) => self.message_create(name, m.message),
            // MESSAGE_UPDATE carries the whole message (API v10): cached as a create would be,
            // as twilight-cache-inmemory does.
            DispatchEvent::MessageUpdate(m) => self.message_create(name, m.0),
            DispatchEvent::MessageDelete(m) => Ok(self.message_delete(m.channel_id, &[m.id])),
            DispatchEvent::MessageDeleteBulk(m) => Ok(self.message_delete(m.channel_id, &m.ids)),
            _ => Ok(Plan::Skip(Skip::NotCached)),
        }
    }
}

/// Whether twilight-model's dispatch deserializer knows the dispatch `name`, asked of the
/// deserializer itself: given a name it does not know, it reports an unknown variant without
/// reading the payload; given one it knows, it starts reading the payload.
fn twilight_knows(name: &str) -> bool {
    !matches!(
        DispatchEventWithTypeDeserializer::new(name).deserialize(NamesOnly),
        Err(Probe::UnknownName)
    )
}

/// A deserializer that answers every read with [`Probe::Read`]; see [`twilight_knows`].
struct NamesOnly;

/// What [`NamesOnly`] saw.
#[derive(Debug)]
enum Probe {
    /// The dispatch deserializer reported the name as an unknown variant.
    UnknownName,
    /// It tried to read the payload, or failed otherwise.
    Read,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Probe::UnknownName => "unknown dispatch name",
            Probe::Read => "payload read",
        })
    }
}

impl std::error::Error for Probe {}

impl serde::de::Error for Probe {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Probe::Read
    }

    fn unknown_variant(_variant: &str, _expected: &'static [&'static str]) -> Self {
        Probe::UnknownName
    }
}

impl<'de> serde::Deserializer<'de> for NamesOnly {
    type Error = Probe;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Probe> {
        Err(Probe::Read)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// `value` as JSON, or [`ProjectionErrorKind::Encode`] for `event`.
fn json<T: Serialize>(event: &str, value: &T) -> Result<String, ProjectionError> {
    serde_json::to_string(value).map_err(|source| encode_error(event, source))
}

/// [`ProjectionErrorKind::Encode`] for `event`.
fn encode_error(event: &str, source: serde_json::Error) -> ProjectionError {
    ProjectionError::with_source(
        ProjectionErrorKind::Encode {
            event: event.to_owned(),
        },
        source,
    )
}

/// An id as a hash field or key part: its decimal snowflake.
fn id<T>(id: twilight_model::id::Id<T>) -> String {
    id.get().to_string()
}

/// `HSET key pairs…`, unless there are no pairs.
fn push_hash(ops: &mut Vec<Op>, key: String, pairs: Vec<(String, String)>) {
    if !pairs.is_empty() {
        ops.push(Op::HSet(key, pairs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilight_knows_its_dispatch_names_only() {
        for known in [
            "READY",
            "MESSAGE_CREATE",
            "GUILD_STICKERS_UPDATE",
            "TYPING_START",
        ] {
            assert!(twilight_knows(known), "{known}");
        }
        for unknown in [
            "VOICE_CHANNEL_STATUS_UPDATE",
            "UNAVAILABLE_GUILD",
            "",
            "ready",
        ] {
            assert!(!twilight_knows(unknown), "{unknown}");
        }
    }
}
