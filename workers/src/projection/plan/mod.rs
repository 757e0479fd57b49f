//! Turns one dispatch into the writes that project it ([`Op`]s), caching what
//! twilight-cache-inmemory caches for the same event, in the key layout of
//! [`ddiscord::cache::keys`], and storing each entity as the JSON Discord sent ([`raw`]):
//! fields and flag bits this project does not know are kept, partial updates merge the fields
//! they carry into the cached object.
//!
//! [`Planner::plan`] splits the dispatch's `d` and hands it to the module of its family, which
//! alone knows how that family is cached:
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
//! | `guild_item` | STAGE_INSTANCE_*, GUILD_SCHEDULED_EVENT_*, INTEGRATION_* |
//! | `message` | MESSAGE_CREATE, MESSAGE_UPDATE, MESSAGE_DELETE, MESSAGE_DELETE_BULK |
//! | `reaction` | MESSAGE_REACTION_ADD, MESSAGE_REACTION_REMOVE, MESSAGE_REACTION_REMOVE_ALL, MESSAGE_REACTION_REMOVE_EMOJI |
//!
//! Every other dispatch Discord documents (`topics.yaml`) is [`Skip::NotCached`]; a name it does
//! not document is [`Skip::Unknown`].
//!
//! Event shapes: <https://discord.com/developers/docs/events/gateway-events#receive-events>.

mod channel;
mod expression;
mod guild;
mod guild_item;
mod member;
mod message;
mod presence;
pub mod raw;
mod reaction;
mod role;
mod thread;
mod user;
mod voice;

use ddiscord::Envelope;
use ddiscord::cache::Keys;

use self::raw::{RawObject, Shape};
pub use self::reaction::Reaction;
use super::ops::{Field, Op};
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
    /// A dispatch Discord does not document (not in `topics.yaml`).
    Unknown,
    /// A documented dispatch that does not change the cache (typing, interactions, …, or
    /// presences/messages when their cache is off).
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
    /// A reaction on a message: read the cached message and the current user first
    /// ([`Planner::reaction`]), then apply `ops` and the reaction's writes.
    Reaction {
        /// Writes that do not depend on the message (the reacting member).
        ops: Vec<Op>,
        /// The change to the message's `reactions`.
        reaction: Reaction,
    },
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
    /// [`ProjectionErrorKind::Payload`] when `d` lacks what the event's documented shape
    /// guarantees (an id, an array): the event is counted and skipped, never half-applied.
    pub fn plan(&self, envelope: &Envelope) -> Result<Plan, ProjectionError> {
        if envelope.op() != 0 {
            return Ok(Plan::Skip(Skip::NotDispatch));
        }
        let Some(name) = envelope.event() else {
            return Ok(Plan::Skip(Skip::NotDispatch));
        };
        let payload = |source: Shape| {
            ProjectionError::with_source(
                ProjectionErrorKind::Payload {
                    event: name.to_owned(),
                },
                source,
            )
        };
        let text = std::str::from_utf8(envelope.d_bytes())
            .map_err(|e| payload(Shape(format!("d is not UTF-8: {e}"))))?;
        if !handled(name) {
            return Ok(Plan::Skip(if ddiscord::contract::is_known_dispatch(name) {
                Skip::NotCached
            } else {
                Skip::Unknown
            }));
        }
        let d = RawObject::parse(text, "d").map_err(payload)?;
        self.dispatch(name, d).map_err(payload)
    }

    /// Hands `d` to the module of its family.
    fn dispatch(&self, name: &str, d: RawObject<'_>) -> Result<Plan, Shape> {
        match name {
            "READY" => self.ready(&d),
            "USER_UPDATE" => Ok(self.user_update(&d)),
            "GUILD_CREATE" => self.guild_create(d),
            "GUILD_UPDATE" => self.guild_update(d),
            "GUILD_DELETE" => self.guild_delete(&d),
            "CHANNEL_CREATE" | "CHANNEL_UPDATE" | "THREAD_CREATE" | "THREAD_UPDATE" => {
                self.channel_upsert(d)
            }
            "CHANNEL_DELETE" => self.channel_delete(&d),
            "CHANNEL_PINS_UPDATE" => self.pins_update(&d),
            "THREAD_DELETE" => self.thread_delete(&d),
            "THREAD_LIST_SYNC" => self.thread_list_sync(&d),
            "THREAD_MEMBER_UPDATE" => self.thread_member_update(&d),
            "THREAD_MEMBERS_UPDATE" => self.thread_members_update(&d),
            "GUILD_ROLE_CREATE" | "GUILD_ROLE_UPDATE" => self.role_upsert(&d),
            "GUILD_ROLE_DELETE" => self.role_delete(&d),
            "GUILD_MEMBER_ADD" => self.member_add(d),
            "GUILD_MEMBER_REMOVE" => self.member_remove(&d),
            "GUILD_MEMBER_UPDATE" => self.member_update(d),
            "GUILD_MEMBERS_CHUNK" => self.member_chunk(&d),
            "PRESENCE_UPDATE" => self.presence_update(&d),
            "VOICE_STATE_UPDATE" => self.voice_state_update(d),
            "GUILD_EMOJIS_UPDATE" => self.emojis_update(&d),
            "GUILD_STICKERS_UPDATE" => self.stickers_update(&d),
            "STAGE_INSTANCE_CREATE" | "STAGE_INSTANCE_UPDATE" => {
                self.item_upsert(d, |k, g| k.guild_stage_instances(g))
            }
            "STAGE_INSTANCE_DELETE" => {
                self.item_delete(&d, "id", |k, g| k.guild_stage_instances(g))
            }
            "GUILD_SCHEDULED_EVENT_CREATE" | "GUILD_SCHEDULED_EVENT_UPDATE" => {
                self.item_upsert(d, |k, g| k.guild_scheduled_events(g))
            }
            "GUILD_SCHEDULED_EVENT_DELETE" => {
                self.item_delete(&d, "id", |k, g| k.guild_scheduled_events(g))
            }
            "INTEGRATION_CREATE" | "INTEGRATION_UPDATE" => {
                self.item_upsert(d, |k, g| k.guild_integrations(g))
            }
            "INTEGRATION_DELETE" => self.item_delete(&d, "id", |k, g| k.guild_integrations(g)),
            "MESSAGE_CREATE" => self.message_create(d),
            "MESSAGE_UPDATE" => self.message_update(d),
            "MESSAGE_DELETE" => self.message_delete(&d, false),
            "MESSAGE_DELETE_BULK" => self.message_delete(&d, true),
            "MESSAGE_REACTION_ADD"
            | "MESSAGE_REACTION_REMOVE"
            | "MESSAGE_REACTION_REMOVE_ALL"
            | "MESSAGE_REACTION_REMOVE_EMOJI" => self.reaction_event(name, d),
            _ => Ok(Plan::Skip(Skip::NotCached)),
        }
    }
}

/// The dispatches the projection caches something of.
const HANDLED: &[&str] = &[
    "READY",
    "USER_UPDATE",
    "GUILD_CREATE",
    "GUILD_UPDATE",
    "GUILD_DELETE",
    "CHANNEL_CREATE",
    "CHANNEL_UPDATE",
    "CHANNEL_DELETE",
    "CHANNEL_PINS_UPDATE",
    "THREAD_CREATE",
    "THREAD_UPDATE",
    "THREAD_DELETE",
    "THREAD_LIST_SYNC",
    "THREAD_MEMBER_UPDATE",
    "THREAD_MEMBERS_UPDATE",
    "GUILD_ROLE_CREATE",
    "GUILD_ROLE_UPDATE",
    "GUILD_ROLE_DELETE",
    "GUILD_MEMBER_ADD",
    "GUILD_MEMBER_REMOVE",
    "GUILD_MEMBER_UPDATE",
    "GUILD_MEMBERS_CHUNK",
    "PRESENCE_UPDATE",
    "VOICE_STATE_UPDATE",
    "GUILD_EMOJIS_UPDATE",
    "GUILD_STICKERS_UPDATE",
    "STAGE_INSTANCE_CREATE",
    "STAGE_INSTANCE_UPDATE",
    "STAGE_INSTANCE_DELETE",
    "GUILD_SCHEDULED_EVENT_CREATE",
    "GUILD_SCHEDULED_EVENT_UPDATE",
    "GUILD_SCHEDULED_EVENT_DELETE",
    "INTEGRATION_CREATE",
    "INTEGRATION_UPDATE",
    "INTEGRATION_DELETE",
    "MESSAGE_CREATE",
    "MESSAGE_UPDATE",
    "MESSAGE_DELETE",
    "MESSAGE_DELETE_BULK",
    "MESSAGE_REACTION_ADD",
    "MESSAGE_REACTION_REMOVE",
    "MESSAGE_REACTION_REMOVE_ALL",
    "MESSAGE_REACTION_REMOVE_EMOJI",
];

/// Whether the projection caches anything of the dispatch `name`.
fn handled(name: &str) -> bool {
    HANDLED.contains(&name)
}

/// `HSET key pairs…`, unless there are no pairs.
fn push_hash(ops: &mut Vec<Op>, key: String, pairs: Vec<(String, String)>) {
    if !pairs.is_empty() {
        ops.push(Op::HSet(key, pairs));
    }
}

/// The fields of `object` without those named in `except`, for a merge.
fn fields_except(object: &RawObject<'_>, except: &[&str]) -> Vec<Field> {
    let mut object = object.clone();
    for key in except {
        object.take(key);
    }
    object.to_pairs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handled_name_is_documented() {
        for name in HANDLED {
            assert!(ddiscord::contract::is_known_dispatch(name), "{name}");
        }
    }
}
