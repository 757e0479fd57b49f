//! State shared by the gateway connections, the traffic task and the control API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::clock::SimClock;
use crate::config::SimConfig;
use crate::gateway::identify::StartLimits;
use crate::gateway::session::Session;
use crate::record::{ConnectionInfo, Record, ShardCounts};
use crate::world::World;

/// Locks a mutex, ignoring poisoning (no lock holder panics outside tests).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A command from the control API to one websocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnCommand {
    /// Send op 7 RECONNECT.
    Reconnect,
    /// Send op 9 INVALID_SESSION with `d` = resumable (and end the session if not resumable).
    Invalidate {
        /// Whether the client may RESUME.
        resumable: bool,
    },
    /// Drop the TCP connection without a close frame.
    Drop,
    /// Stop sending anything, heartbeat ACKs included (a "zombied" connection).
    Zombie,
    /// Send op 1 HEARTBEAT, asking the client for an immediate heartbeat.
    RequestHeartbeat,
}

/// A registered connection: its command sender and the session it serves.
pub(crate) type ConnEntry = (mpsc::UnboundedSender<ConnCommand>, Arc<str>);

/// Per-shard state.
#[derive(Debug, Default)]
pub(crate) struct ShardSlot {
    pub current: Mutex<Option<Arc<Session>>>,
    pub conns: Mutex<HashMap<u64, ConnEntry>>,
    pub counts: Mutex<ShardCounts>,
}

/// Dispatch event name to the intent it needs
/// (<https://discord.com/developers/docs/events/gateway#list-of-intents>); `None` for events
/// sent regardless (READY, RESUMED, unknown names).
pub(crate) fn required_intent(name: &str) -> Option<u64> {
    Some(match name {
        "GUILD_CREATE"
        | "GUILD_UPDATE"
        | "GUILD_DELETE"
        | "GUILD_ROLE_CREATE"
        | "GUILD_ROLE_UPDATE"
        | "GUILD_ROLE_DELETE"
        | "CHANNEL_CREATE"
        | "CHANNEL_UPDATE"
        | "CHANNEL_DELETE"
        | "CHANNEL_PINS_UPDATE"
        | "THREAD_CREATE"
        | "THREAD_UPDATE"
        | "THREAD_DELETE"
        | "THREAD_LIST_SYNC"
        | "THREAD_MEMBER_UPDATE"
        | "STAGE_INSTANCE_CREATE"
        | "STAGE_INSTANCE_UPDATE"
        | "STAGE_INSTANCE_DELETE" => 1 << 0,
        "GUILD_MEMBER_ADD"
        | "GUILD_MEMBER_UPDATE"
        | "GUILD_MEMBER_REMOVE"
        | "THREAD_MEMBERS_UPDATE" => 1 << 1,
        "GUILD_BAN_ADD" | "GUILD_BAN_REMOVE" | "GUILD_AUDIT_LOG_ENTRY_CREATE" => 1 << 2,
        "GUILD_EMOJIS_UPDATE" | "GUILD_STICKERS_UPDATE" => 1 << 3,
        "WEBHOOKS_UPDATE" => 1 << 5,
        "INVITE_CREATE" | "INVITE_DELETE" => 1 << 6,
        "VOICE_STATE_UPDATE" | "VOICE_CHANNEL_EFFECT_SEND" => 1 << 7,
        "PRESENCE_UPDATE" => 1 << 8,
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" | "MESSAGE_DELETE_BULK" => 1 << 9,
        "MESSAGE_REACTION_ADD"
        | "MESSAGE_REACTION_REMOVE"
        | "MESSAGE_REACTION_REMOVE_ALL"
        | "MESSAGE_REACTION_REMOVE_EMOJI" => 1 << 10,
        "TYPING_START" => 1 << 11,
        _ => return None,
    })
}

/// Pushes a dispatch to `session` as Discord would deliver it: dropped without the intent it
/// needs, message content emptied without `MESSAGE_CONTENT`. Returns its sequence.
pub(crate) fn push_to_session(
    session: &Session,
    name: &str,
    guild_id: Option<u64>,
    data: &str,
) -> Option<u64> {
    if let Some(bit) = required_intent(name)
        && session.intents & bit == 0
    {
        return None;
    }
    if matches!(name, "MESSAGE_CREATE" | "MESSAGE_UPDATE")
        && session.intents & crate::config::INTENT_MESSAGE_CONTENT == 0
    {
        return session.push(name, guild_id, &without_content(data));
    }
    session.push(name, guild_id, data)
}

/// A message payload as an app without the `MESSAGE_CONTENT` intent sees it: `content`,
/// `embeds`, `attachments` and `components` empty
/// (<https://discord.com/developers/docs/events/gateway#message-content-intent>).
fn without_content(data: &str) -> String {
    match serde_json::from_str::<Value>(data) {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                if o.contains_key("content") {
                    o.insert("content".into(), json!(""));
                }
                for key in ["embeds", "attachments", "components"] {
                    if o.contains_key(key) {
                        o.insert(key.into(), json!([]));
                    }
                }
            }
            v.to_string()
        }
        Err(_) => data.to_owned(),
    }
}

/// Everything shared.
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: SimConfig,
    pub clock: SimClock,
    pub world: Mutex<World>,
    pub shards: Vec<ShardSlot>,
    pub sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    pub record: Record,
    pub connections: Mutex<Vec<ConnectionInfo>>,
    pub limits: Mutex<StartLimits>,
    /// The per-guild limit on requests for every member (opcode 8).
    pub member_requests: Mutex<crate::gateway::members::MemberRequestLimit>,
    /// The REST side: rate limits, posted messages, bans, interactions.
    pub rest: Mutex<crate::rest::RestState>,
    /// Events per second, as f64 bits.
    pub rate_bits: AtomicU64,
    pub ws_url: String,
    pub next_id: AtomicU64,
    pub events_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub generated: AtomicU64,
    /// Dispatches not generated because their shard's connection was a buffer behind
    /// ([`SimConfig::shed_when_behind`]).
    pub shed: AtomicU64,
}

impl Shared {
    pub(crate) fn new(cfg: SimConfig, world: World, ws_url: String) -> Self {
        let shards = (0..cfg.shards)
            .map(|i| {
                let slot = ShardSlot::default();
                lock(&slot.counts).shard = i;
                slot
            })
            .collect();
        Self {
            clock: SimClock::new(cfg.clock),
            limits: Mutex::new(StartLimits::new(&cfg)),
            member_requests: Mutex::default(),
            rest: Mutex::new(crate::rest::RestState::new(cfg.rest_limits)),
            record: Record::new(cfg.record_limit, cfg.record_frames),
            connections: Mutex::new(Vec::new()),
            rate_bits: AtomicU64::new(cfg.events_per_sec.to_bits()),
            world: Mutex::new(world),
            shards,
            sessions: Mutex::new(HashMap::new()),
            ws_url,
            next_id: AtomicU64::new(1),
            events_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            generated: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            cfg,
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        f64::from_bits(self.rate_bits.load(Ordering::Relaxed))
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn slot(&self, shard: u32) -> Option<&ShardSlot> {
        self.shards.get(shard as usize)
    }

    /// Pushes a dispatch to the current session of `shard`; returns its sequence if a session
    /// took it (sessions without the needed intent skip it).
    /// Whether the traffic may add a dispatch for `shard` now: always, unless
    /// [`SimConfig::shed_when_behind`] is set and its session is a whole buffer behind.
    pub(crate) fn has_room(&self, shard: u32) -> bool {
        if !self.cfg.shed_when_behind {
            return true;
        }
        self.slot(shard)
            .and_then(|s| lock(&s.current).clone())
            .is_none_or(|session| !session.is_full())
    }

    pub(crate) fn push_to_shard(
        &self,
        shard: u32,
        name: &str,
        guild_id: Option<u64>,
        data: &str,
    ) -> Option<u64> {
        let session = lock(&self.slot(shard)?.current).clone()?;
        push_to_session(&session, name, guild_id, data)
    }

    /// Starts a session for `shard` after an accepted IDENTIFY: READY and one GUILD_CREATE
    /// per guild of the shard are buffered before any later dispatch can reach it.
    pub(crate) fn start_session(
        &self,
        shard: [u32; 2],
        intents: u64,
        large_threshold: usize,
    ) -> Arc<Session> {
        let n = self.next_id();
        let id: Arc<str> = Arc::from(format!("sim{n:08x}{:08x}", shard[0]));
        let session = Arc::new(Session::new(
            Arc::clone(&id),
            shard[0],
            intents,
            self.cfg.resume_buffer,
        ));
        let world = lock(&self.world);
        let guilds = world.guilds_of_shard(shard[0], shard[1]);
        let mut ready = world.templates.ready.clone();
        if let Some(o) = ready.as_object_mut() {
            o.remove("_trace");
        }
        ready["session_id"] = json!(&*id);
        ready["resume_gateway_url"] = json!(self.ws_url);
        ready["shard"] = json!(shard);
        ready["user"] = world.bot_user.clone();
        ready["application"] = json!({"id": world.bot_id.to_string(), "flags": 0});
        ready["guilds"] = Value::Array(
            guilds
                .iter()
                .map(|g| json!({"id": g.to_string(), "unavailable": true}))
                .collect(),
        );
        session.push("READY", None, &ready.to_string());
        let presences = intents & crate::config::INTENT_GUILD_PRESENCES != 0;
        for gid in &guilds {
            if let Some(g) = world.guild(*gid) {
                session.push(
                    "GUILD_CREATE",
                    Some(*gid),
                    &g.guild_create_for(presences, large_threshold, world.bot_id)
                        .to_string(),
                );
            }
        }
        if let Some(slot) = self.slot(shard[0]) {
            let old = lock(&slot.current).replace(Arc::clone(&session));
            if let Some(old) = old {
                old.invalidate();
                lock(&self.sessions).remove(&old.id);
            }
        }
        lock(&self.sessions).insert(id, Arc::clone(&session));
        drop(world);
        session
    }

    /// Ends a session (it can no longer be resumed).
    pub(crate) fn end_session(&self, session: &Session) {
        session.invalidate();
        lock(&self.sessions).remove(&session.id);
        if let Some(slot) = self.slot(session.shard) {
            let mut cur = lock(&slot.current);
            if cur.as_ref().is_some_and(|s| s.id == session.id) {
                *cur = None;
            }
        }
    }

    /// Sends a command to every connection of `shard`; returns how many were reached.
    pub(crate) fn command_shard(&self, shard: u32, cmd: ConnCommand) -> usize {
        let Some(slot) = self.slot(shard) else {
            return 0;
        };
        lock(&slot.conns)
            .values()
            .filter(|(tx, _)| tx.send(cmd).is_ok())
            .count()
    }

    /// Sends a command to every connection attached to `session_id`; returns how many.
    pub(crate) fn command_session(&self, session_id: &str, cmd: ConnCommand) -> usize {
        self.shards
            .iter()
            .map(|slot| {
                lock(&slot.conns)
                    .values()
                    .filter(|(tx, sid)| &**sid == session_id && tx.send(cmd).is_ok())
                    .count()
            })
            .sum()
    }

    pub(crate) fn counts(&self, shard: u32, f: impl FnOnce(&mut ShardCounts)) {
        if let Some(slot) = self.slot(shard) {
            f(&mut lock(&slot.counts));
        }
    }
}
