//! The simulated world: guilds cloned from the captured GUILD_CREATEs with fresh snowflakes.
//!
//! Snowflakes follow <https://discord.com/developers/docs/reference#snowflakes>: the upper 42 bits
//! are ms since the Discord epoch. Guild `i` gets timestamp `base + i`, so guilds are spread
//! round-robin over shards by `(guild_id >> 22) % shard_count`
//! (<https://discord.com/developers/docs/events/gateway#sharding>).

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Map, Value, json};

use crate::fixtures::Fixtures;

/// Discord epoch (2015-01-01T00:00:00Z) in Unix ms.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// Unix ms the simulated world's timestamps start from (2026-11-21T00:00:00Z), fixed so that a
/// seed always gives the same stream.
pub const WORLD_START_UNIX_MS: u64 = 1_795_219_200_000;

/// Most messages remembered per guild for updates, deletes and reactions.
pub(crate) const MESSAGES_PER_GUILD_PUB: usize = 500;

/// The shard that owns `guild_id` among `shard_count` shards: `(guild_id >> 22) % shard_count`
/// (the core's routing, so the simulator and ingest can never disagree).
pub use ddiscord_model::shard_for_guild as shard_of;

/// Formats Unix ms as Discord's ISO 8601 timestamps (`2026-11-21T00:00:00.000000+00:00`).
pub fn iso8601(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}000+00:00",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Issues unique snowflakes with increasing timestamps.
#[derive(Debug, Clone)]
pub struct SnowflakeGen {
    ts: u64,
    inc: u64,
}

impl SnowflakeGen {
    fn new(start_unix_ms: u64) -> Self {
        Self {
            ts: start_unix_ms.saturating_sub(DISCORD_EPOCH_MS),
            inc: 0,
        }
    }

    /// The next snowflake.
    pub fn next_id(&mut self) -> u64 {
        let id = (self.ts << 22) | (1 << 17) | self.inc;
        self.inc += 1;
        if self.inc == 4096 {
            self.inc = 0;
            self.ts += 1;
        }
        id
    }
}

/// A message the world remembers so that updates, deletes and reactions refer to it.
#[derive(Debug, Clone)]
pub struct MessageRef {
    /// Message snowflake.
    pub id: u64,
    /// Channel (or thread) snowflake.
    pub channel_id: u64,
    /// Author's user snowflake.
    pub author_id: u64,
    /// Reactions present: (emoji name, user snowflake).
    pub reactions: Vec<(String, u64)>,
}

/// One guild's current state.
#[derive(Debug, Clone)]
pub struct Guild {
    /// Guild snowflake.
    pub id: u64,
    /// GUILD_CREATE fields that the traffic does not change.
    pub base: Map<String, Value>,
    /// Channel objects.
    pub channels: Vec<Value>,
    /// Role objects.
    pub roles: Vec<Value>,
    /// Member objects (each with `user`).
    pub members: Vec<Value>,
    /// User snowflake to index in `members`.
    pub member_index: HashMap<u64, usize>,
    /// Presences by user snowflake (offline users have none).
    pub presences: BTreeMap<u64, Value>,
    /// Voice states by user snowflake.
    pub voice_states: BTreeMap<u64, Value>,
    /// Active thread objects.
    pub threads: Vec<Value>,
    /// Recent messages.
    pub messages: VecDeque<MessageRef>,
    /// Snowflakes of channels the traffic created (only those are deleted again).
    pub created_channels: Vec<u64>,
    /// Owner's user snowflake (never removed).
    pub owner_id: u64,
    /// Snowflakes of text channels (type 0), kept by [`Guild::reindex`].
    pub text_ids: Vec<u64>,
    /// Snowflakes of voice channels (type 2), kept by [`Guild::reindex`].
    pub voice_ids: Vec<u64>,
    /// Snowflakes of active threads, kept by [`Guild::reindex`].
    pub thread_ids: Vec<u64>,
}

/// Reads a snowflake field of a JSON object.
pub fn id_of(v: &Value, key: &str) -> Option<u64> {
    snowflake(v.get(key)?)
}

/// The `user.id` of a member or presence object.
pub fn user_id_of(v: &Value) -> Option<u64> {
    id_of(v.get("user")?, "id")
}

/// A snowflake given as Discord sends ids: a decimal string.
pub fn snowflake(v: &Value) -> Option<u64> {
    v.as_str()?.parse().ok()
}

impl Guild {
    /// Number of members.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Adds a member, keeping the index.
    /// Adds a member, or replaces the one with the same user: a user is a member once.
    pub fn add_member(&mut self, member: Value) {
        if let Some(uid) = user_id_of(&member) {
            if let Some(&idx) = self.member_index.get(&uid) {
                self.members[idx] = member;
            } else {
                self.member_index.insert(uid, self.members.len());
                self.members.push(member);
            }
        }
    }

    /// Removes a member by user snowflake, with their presence, voice state and reactions.
    pub fn remove_member(&mut self, user_id: u64) -> Option<Value> {
        let idx = self.member_index.remove(&user_id)?;
        let removed = self.members.swap_remove(idx);
        if let Some(moved) = self.members.get(idx)
            && let Some(uid) = user_id_of(moved)
        {
            self.member_index.insert(uid, idx);
        }
        self.presences.remove(&user_id);
        self.voice_states.remove(&user_id);
        Some(removed)
    }

    /// Moves `user_id` into the voice channel `channel` (or out of voice, `None`): fills the
    /// VOICE_STATE_UPDATE `d` (Discord's voice state with `member`) and keeps the guild's voice
    /// states in step, stored without `member` as GUILD_CREATE sends them. `None` when the
    /// user is not a member.
    pub fn voice_state_update(
        &mut self,
        mut d: Value,
        user_id: u64,
        channel: Option<u64>,
    ) -> Option<Value> {
        d["member"] = self.member(user_id)?.clone();
        d["guild_id"] = json!(self.id.to_string());
        d["user_id"] = json!(user_id.to_string());
        d["channel_id"] = channel.map_or(Value::Null, |c| json!(c.to_string()));
        if channel.is_some() {
            let mut stored = d.clone();
            if let Some(o) = stored.as_object_mut() {
                o.remove("member");
            }
            self.voice_states.insert(user_id, stored);
        } else {
            self.voice_states.remove(&user_id);
        }
        Some(d)
    }

    /// The member object of `user_id`.
    pub fn member(&self, user_id: u64) -> Option<&Value> {
        self.members.get(*self.member_index.get(&user_id)?)
    }

    /// Snowflakes of channels of `kind` (0 text, 2 voice, 4 category).
    pub fn channels_of_type(&self, kind: u64) -> Vec<u64> {
        self.channels
            .iter()
            .filter(|c| c.get("type").and_then(Value::as_u64) == Some(kind))
            .filter_map(|c| id_of(c, "id"))
            .collect()
    }

    /// Rebuilds the channel and thread id lists after channels or threads changed.
    pub fn reindex(&mut self) {
        self.text_ids = self.channels_of_type(0);
        self.voice_ids = self.channels_of_type(2);
        self.thread_ids = self.threads.iter().filter_map(|t| id_of(t, "id")).collect();
    }

    /// The GUILD_CREATE `d` a session gets, with Discord's `large_threshold` rule
    /// (<https://discord.com/developers/docs/events/gateway-events#identify>, "total number of
    /// members where the gateway will stop sending offline members in the guild member list"):
    /// a guild with more members than `large_threshold` is `large: true` and its `members` are
    /// only the online ones (visible with `GUILD_PRESENCES`), those in a voice channel, and the
    /// bot (`bot_id`); `member_count` stays the whole count. Smaller guilds come whole.
    pub fn guild_create_for(
        &self,
        with_presences: bool,
        large_threshold: usize,
        bot_id: u64,
    ) -> Value {
        let mut d = self.guild_create(with_presences);
        let large = self.members.len() > large_threshold;
        d["large"] = json!(large);
        if large {
            let online = |uid: u64| {
                with_presences
                    && self
                        .presences
                        .get(&uid)
                        .and_then(|p| p.get("status"))
                        .and_then(Value::as_str)
                        .is_some_and(|s| s != "offline")
            };
            let sent: Vec<Value> = self
                .members
                .iter()
                .filter(|m| {
                    user_id_of(m).is_some_and(|uid| {
                        uid == bot_id || self.voice_states.contains_key(&uid) || online(uid)
                    })
                })
                .cloned()
                .collect();
            d["members"] = Value::Array(sent);
        }
        d
    }

    /// The GUILD_CREATE `d` of the guild as it is now, every member included; presences only
    /// if `with_presences`.
    pub fn guild_create(&self, with_presences: bool) -> Value {
        let mut d = self.base.clone();
        d.insert("channels".into(), Value::Array(self.channels.clone()));
        d.insert("roles".into(), Value::Array(self.roles.clone()));
        d.insert("members".into(), Value::Array(self.members.clone()));
        d.insert("member_count".into(), json!(self.members.len()));
        let presences = if with_presences {
            self.presences.values().cloned().collect()
        } else {
            Vec::new()
        };
        d.insert("presences".into(), Value::Array(presences));
        d.insert(
            "voice_states".into(),
            Value::Array(self.voice_states.values().cloned().collect()),
        );
        d.insert("threads".into(), Value::Array(self.threads.clone()));
        Value::Object(d)
    }
}

/// Templates taken from the captures, used for generated payloads.
#[derive(Debug, Clone)]
pub struct Templates {
    /// MESSAGE_CREATE `d` (v10 capture).
    pub message: Value,
    /// MESSAGE_REACTION_ADD `d` (v10 capture).
    pub reaction_add: Value,
    /// THREAD_CREATE `d` (v10 capture).
    pub thread: Value,
    /// VOICE_STATE_UPDATE `d` (v10 capture).
    pub voice_state: Value,
    /// GUILD_ROLE_CREATE `d.role` (v6 capture, upgraded).
    pub role: Value,
    /// A member object with `user` (v10 capture).
    pub member: Value,
    /// READY `d` (v10 capture).
    pub ready: Value,
}

impl Templates {
    fn from_fixtures(f: &Fixtures) -> Option<Self> {
        Some(Self {
            message: f
                .find("MESSAGE_CREATE", |d| {
                    d.get("member").is_some() && d.get("referenced_message").is_none()
                })?
                .clone(),
            reaction_add: f
                .find("MESSAGE_REACTION_ADD", |d| d.get("member").is_some())?
                .clone(),
            thread: f.find("THREAD_CREATE", |_| true)?.clone(),
            voice_state: f
                .find("VOICE_STATE_UPDATE", |d| d.get("member").is_some())?
                .clone(),
            role: f.find("GUILD_ROLE_CREATE", |_| true)?.get("role")?.clone(),
            member: f
                .find("GUILD_CREATE", |d| {
                    d.get("members")
                        .and_then(Value::as_array)
                        .is_some_and(|m| m.len() > 1)
                })?
                .get("members")?
                .as_array()?
                .iter()
                .find(|m| m.pointer("/user/bot") == Some(&Value::Bool(false)))?
                .clone(),
            ready: f.find("READY", |_| true)?.clone(),
        })
    }
}

/// The whole simulated world.
#[derive(Debug, Clone)]
pub struct World {
    /// Guilds, in creation order.
    pub guilds: Vec<Guild>,
    /// Guild snowflake to index in `guilds`.
    pub guild_index: HashMap<u64, usize>,
    /// The bot's user object (as in READY).
    pub bot_user: Value,
    /// The bot's (and application's) snowflake.
    pub bot_id: u64,
    /// Payload templates.
    pub templates: Templates,
    /// Snowflake source for new entities.
    pub ids: SnowflakeGen,
    /// Counter for new names (`user_123`, `role_7`, ...).
    pub names: u64,
    /// Simulated Unix ms of the newest event (advances 1 ms per generated event).
    pub now_unix_ms: u64,
}

fn is_id_key(key: &str) -> bool {
    key == "id" || key.ends_with("_id") || key == "roles" || key == "mention_roles"
}

fn looks_like_snowflake(s: &str) -> bool {
    (15..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Replaces every snowflake under an id-like key by a fresh one, consistently within `map`.
fn remap(v: &mut Value, id_key: bool, map: &mut HashMap<String, u64>, ids: &mut SnowflakeGen) {
    match v {
        Value::String(s) if id_key && looks_like_snowflake(s) => {
            let new = *map.entry(s.clone()).or_insert_with(|| ids.next_id());
            *s = new.to_string();
        }
        Value::Array(a) => a.iter_mut().for_each(|x| remap(x, id_key, map, ids)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                remap(x, is_id_key(k), map, ids);
            }
        }
        _ => {}
    }
}

fn take_array(o: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match o.remove(key) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

impl World {
    /// Builds `small` clones of the captured small guilds (round-robin over the captures) and,
    /// if the large guild was loaded, one clone of it. Returns `None` if a capture lacks a
    /// template this needs.
    pub fn build(fixtures: &Fixtures, small: u32) -> Option<Self> {
        let templates = Templates::from_fixtures(fixtures)?;
        let mut ids = SnowflakeGen::new(WORLD_START_UNIX_MS - 86_400_000);
        let old_bot_id = templates.ready.pointer("/user/id")?.as_str()?.to_owned();
        let bot_id = ids.next_id();
        let mut bot_user = templates.ready.get("user")?.clone();
        bot_user["id"] = json!(bot_id.to_string());
        bot_user["username"] = json!("ddiscord-sim");

        let smalls: Vec<&Value> = fixtures.all("GUILD_CREATE");
        let mut sources: Vec<&Value> = Vec::new();
        if !smalls.is_empty() {
            for i in 0..small as usize {
                sources.extend(smalls.get(i % smalls.len()));
            }
        }
        if let Some(large) = &fixtures.large_guild {
            sources.push(large);
        }
        // Guild timestamps are consecutive so guilds spread round-robin over shards.
        let guild_base_ts = (WORLD_START_UNIX_MS - 2 * 86_400_000) - DISCORD_EPOCH_MS;
        let mut guilds = Vec::with_capacity(sources.len());
        for (i, src) in sources.into_iter().enumerate() {
            let mut d = src.clone();
            let old_gid = d.get("id")?.as_str()?.to_owned();
            let gid = ((guild_base_ts + i as u64) << 22) | 7;
            let mut map = HashMap::new();
            map.insert(old_gid, gid);
            map.insert(old_bot_id.clone(), bot_id);
            remap(&mut d, false, &mut map, &mut ids);
            let Value::Object(mut base) = d else {
                return None;
            };
            base.remove("_trace");
            let channels = take_array(&mut base, "channels");
            let roles = take_array(&mut base, "roles");
            let members = take_array(&mut base, "members");
            let presences = take_array(&mut base, "presences");
            let voice_states = take_array(&mut base, "voice_states");
            let threads = take_array(&mut base, "threads");
            base.insert("name".into(), json!(format!("sim guild {i}")));
            let owner_id = id_of(&Value::Object(base.clone()), "owner_id").unwrap_or(0);
            let mut guild = Guild {
                id: gid,
                base,
                channels,
                roles,
                members: Vec::new(),
                member_index: HashMap::new(),
                presences: BTreeMap::new(),
                voice_states: BTreeMap::new(),
                threads,
                messages: VecDeque::new(),
                created_channels: Vec::new(),
                owner_id,
                text_ids: Vec::new(),
                voice_ids: Vec::new(),
                thread_ids: Vec::new(),
            };
            guild.reindex();
            for m in members {
                guild.add_member(m);
            }
            // The bot is a member, as the user READY names; the owner is a member too (the
            // captures were taken by a bot that is not always the owner's fellow member).
            let mut me = guild
                .member(bot_id)
                .cloned()
                .unwrap_or_else(|| templates.member.clone());
            me["user"] = bot_user.clone();
            if guild.member(bot_id).is_none() {
                me["roles"] = json!([]);
            }
            guild.add_member(me);
            if owner_id != 0 && guild.member(owner_id).is_none() {
                let mut owner = templates.member.clone();
                let mut user = templates.member.get("user").cloned().unwrap_or(json!({}));
                user["id"] = json!(owner_id.to_string());
                user["username"] = json!(format!("owner{i}"));
                user["global_name"] = Value::Null;
                user["bot"] = json!(false);
                owner["user"] = user;
                owner["roles"] = json!([]);
                guild.add_member(owner);
            }
            for mut p in presences {
                if let Some(uid) = user_id_of(&p) {
                    p["guild_id"] = json!(gid.to_string());
                    guild.presences.insert(uid, p);
                }
            }
            for mut vs in voice_states {
                if let Some(uid) = id_of(&vs, "user_id") {
                    vs["guild_id"] = json!(gid.to_string());
                    guild.voice_states.insert(uid, vs);
                }
            }
            guilds.push(guild);
        }
        let guild_index = guilds.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        Some(Self {
            guilds,
            guild_index,
            bot_user,
            bot_id,
            templates,
            ids,
            names: 0,
            now_unix_ms: WORLD_START_UNIX_MS,
        })
    }

    /// Snowflakes of the guilds a shard owns, in world order.
    pub fn guilds_of_shard(&self, shard: u32, shard_count: u32) -> Vec<u64> {
        self.guilds
            .iter()
            .map(|g| g.id)
            .filter(|id| shard_of(*id, shard_count) == shard)
            .collect()
    }

    /// A guild by snowflake.
    pub fn guild(&self, id: u64) -> Option<&Guild> {
        self.guilds.get(*self.guild_index.get(&id)?)
    }

    /// A guild by snowflake, to change it.
    pub fn guild_mut(&mut self, id: u64) -> Option<&mut Guild> {
        self.guilds.get_mut(*self.guild_index.get(&id)?)
    }

    /// A fresh snowflake for a new entity, with the world's current timestamp.
    pub fn new_id(&mut self) -> u64 {
        self.ids.next_id()
    }

    /// A new sequential number for names.
    pub fn next_name(&mut self) -> u64 {
        self.names += 1;
        self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_formats_like_discord() {
        assert_eq!(
            iso8601(WORLD_START_UNIX_MS + 1234),
            "2026-11-21T00:00:01.234000+00:00"
        );
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000+00:00");
    }

    #[test]
    fn snowflakes_are_unique_and_increasing() {
        let mut g = SnowflakeGen::new(WORLD_START_UNIX_MS);
        let a: Vec<u64> = (0..10_000).map(|_| g.next_id()).collect();
        assert!(a.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn shard_formula() {
        assert_eq!(shard_of(81_384_788_765_712_384, 1), 0);
        assert_eq!(shard_of(5 << 22, 4), 1);
    }
}
