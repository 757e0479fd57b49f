//! The traffic generator: a seeded, realistic mix of dispatches that stays consistent with the
//! [`World`] (no update for a member who never joined, deletes refer to what exists).
//!
//! Event names and payload shapes follow <https://discord.com/developers/docs/events/gateway-events>;
//! the payloads are built from the captured fixtures.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::world::{MessageRef, World, id_of, iso8601};

/// One generated dispatch, not yet numbered.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Guild snowflake the dispatch belongs to (decides the shard).
    pub guild_id: u64,
    /// Dispatch event name (`t`).
    pub name: &'static str,
    /// Dispatch payload (`d`).
    pub data: Value,
}

/// What kind of event to try, with its weight in the mix (per 1000).
const MIX: &[(&str, u32)] = &[
    ("PRESENCE_UPDATE", 300),
    ("MESSAGE_CREATE", 220),
    ("TYPING_START", 100),
    ("MESSAGE_UPDATE", 50),
    ("MESSAGE_DELETE", 40),
    ("MESSAGE_REACTION_ADD", 60),
    ("MESSAGE_REACTION_REMOVE", 20),
    ("GUILD_MEMBER_ADD", 30),
    ("GUILD_MEMBER_UPDATE", 30),
    ("GUILD_MEMBER_REMOVE", 20),
    ("VOICE_STATE_UPDATE", 40),
    ("GUILD_ROLE_CREATE", 8),
    ("GUILD_ROLE_UPDATE", 8),
    ("GUILD_ROLE_DELETE", 8),
    ("CHANNEL_CREATE", 8),
    ("CHANNEL_UPDATE", 8),
    ("CHANNEL_DELETE", 8),
    ("THREAD_CREATE", 8),
    ("THREAD_UPDATE", 8),
    ("THREAD_DELETE", 8),
    ("VOICE_CHANNEL_STATUS_UPDATE", 10),
    ("VOICE_CHANNEL_START_TIME_UPDATE", 10),
];

const EMOJIS: &[&str] = &["👍", "🎉", "😂", "❤️", "🚀"];
const STATUSES: &[&str] = &["online", "idle", "dnd", "offline"];

/// Deterministic traffic source.
#[derive(Debug)]
pub struct Traffic {
    rng: SmallRng,
    total_weight: u32,
}

fn sid(id: u64) -> Value {
    Value::String(id.to_string())
}

fn pick<T: Copy>(rng: &mut SmallRng, items: &[T]) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.random_range(0..items.len())).copied()
    }
}

impl Traffic {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            total_weight: MIX.iter().map(|(_, w)| w).sum(),
        }
    }

    /// Generates the next dispatch and applies it to `world`. `None` only if the world has no
    /// guilds.
    pub fn next_event(&mut self, world: &mut World) -> Option<Generated> {
        if world.guilds.is_empty() {
            return None;
        }
        world.now_unix_ms += 1;
        let gi = self.pick_guild(world);
        let mut roll = self.rng.random_range(0..self.total_weight);
        let mut kind = "MESSAGE_CREATE";
        for (name, w) in MIX {
            if roll < *w {
                kind = name;
                break;
            }
            roll -= w;
        }
        self.make(world, gi, kind)
            .or_else(|| self.make(world, gi, "MESSAGE_CREATE"))
            .or_else(|| self.make(world, gi, "CHANNEL_CREATE"))
    }

    /// Picks a guild with weight `1 + ln(members)`: big guilds are busier, small ones still
    /// speak.
    fn pick_guild(&mut self, world: &World) -> usize {
        #[allow(clippy::cast_precision_loss)]
        let weight = |g: &crate::world::Guild| 1.0 + (g.member_count().max(1) as f64).ln();
        let total: f64 = world.guilds.iter().map(weight).sum();
        let mut roll = self.rng.random_range(0.0..total);
        for (i, g) in world.guilds.iter().enumerate() {
            roll -= weight(g);
            if roll < 0.0 {
                return i;
            }
        }
        world.guilds.len() - 1
    }

    fn random_member(&mut self, world: &World, gi: usize, removable: bool) -> Option<u64> {
        let g = world.guilds.get(gi)?;
        for _ in 0..8 {
            let m = g
                .members
                .get(self.rng.random_range(0..g.members.len().max(1)))?;
            let uid = m.get("user").and_then(|u| id_of(u, "id"))?;
            if uid == world.bot_id || (removable && uid == g.owner_id) {
                continue;
            }
            return Some(uid);
        }
        None
    }

    fn text_channel(&mut self, world: &World, gi: usize, with_threads: bool) -> Option<u64> {
        let g = world.guilds.get(gi)?;
        let threads: &[u64] = if with_threads { &g.thread_ids } else { &[] };
        let n = g.text_ids.len() + threads.len();
        if n == 0 {
            return None;
        }
        let i = self.rng.random_range(0..n);
        g.text_ids
            .get(i)
            .or_else(|| threads.get(i - g.text_ids.len()))
            .copied()
    }

    fn message_payload(world: &World, gi: usize, msg: &MessageRef, content: &str) -> Option<Value> {
        let g = world.guilds.get(gi)?;
        let member = g.member(msg.author_id)?;
        let mut d = world.templates.message.clone();
        let mut m = member.clone();
        let user = m.as_object_mut()?.remove("user")?;
        d["member"] = m;
        d["author"] = user;
        d["id"] = sid(msg.id);
        d["channel_id"] = sid(msg.channel_id);
        d["guild_id"] = sid(g.id);
        d["content"] = json!(content);
        d["timestamp"] = json!(iso8601(world.now_unix_ms));
        d["edited_timestamp"] = Value::Null;
        d["nonce"] = json!(msg.id.to_string());
        Some(d)
    }

    #[allow(clippy::too_many_lines)]
    fn make(&mut self, world: &mut World, gi: usize, kind: &'static str) -> Option<Generated> {
        let gid = world.guilds.get(gi)?.id;
        let now = world.now_unix_ms;
        let data = match kind {
            "MESSAGE_CREATE" => {
                let channel_id = self.text_channel(world, gi, true)?;
                let author_id = self.random_member(world, gi, false)?;
                let msg = MessageRef {
                    id: world.new_id(),
                    channel_id,
                    author_id,
                    reactions: Vec::new(),
                };
                let n = world.next_name();
                let d = Self::message_payload(world, gi, &msg, &format!("message {n}"))?;
                let g = world.guilds.get_mut(gi)?;
                g.messages.push_back(msg);
                if g.messages.len() > super::world::MESSAGES_PER_GUILD_PUB {
                    g.messages.pop_front();
                }
                d
            }
            "MESSAGE_UPDATE" => {
                let g = world.guilds.get(gi)?;
                let i = self.rng.random_range(0..g.messages.len().max(1));
                let msg = g.messages.get(i)?.clone();
                let n = world.next_name();
                let mut d = Self::message_payload(world, gi, &msg, &format!("edited {n}"))?;
                d["edited_timestamp"] = json!(iso8601(now));
                d
            }
            "MESSAGE_DELETE" => {
                let g = world.guilds.get_mut(gi)?;
                let i = self.rng.random_range(0..g.messages.len().max(1));
                let msg = g.messages.remove(i)?;
                json!({"id": sid(msg.id), "channel_id": sid(msg.channel_id), "guild_id": sid(gid)})
            }
            "MESSAGE_REACTION_ADD" => {
                let user_id = self.random_member(world, gi, false)?;
                let emoji = pick(&mut self.rng, EMOJIS)?;
                let g = world.guilds.get(gi)?;
                let i = self.rng.random_range(0..g.messages.len().max(1));
                let msg = g.messages.get(i)?.clone();
                let member = g.member(user_id)?.clone();
                let mut d = world.templates.reaction_add.clone();
                d["member"] = member;
                d["message_id"] = sid(msg.id);
                d["message_author_id"] = sid(msg.author_id);
                d["emoji"] = json!({"name": emoji, "id": null});
                d["guild_id"] = sid(gid);
                d["user_id"] = sid(user_id);
                d["channel_id"] = sid(msg.channel_id);
                if let Some(m) = world.guilds.get_mut(gi)?.messages.get_mut(i) {
                    m.reactions.push((emoji.to_owned(), user_id));
                }
                d
            }
            "MESSAGE_REACTION_REMOVE" => {
                let g = world.guilds.get_mut(gi)?;
                let candidates: Vec<usize> = (0..g.messages.len())
                    .filter(|i| g.messages.get(*i).is_some_and(|m| !m.reactions.is_empty()))
                    .collect();
                let i = pick(&mut self.rng, &candidates)?;
                let msg = g.messages.get_mut(i)?;
                let (emoji, user_id) = msg.reactions.pop()?;
                json!({"channel_id": sid(msg.channel_id), "message_id": sid(msg.id),
                    "user_id": sid(user_id), "guild_id": sid(gid),
                    "emoji": {"name": emoji, "id": null}, "burst": false, "type": 0})
            }
            "TYPING_START" => {
                let channel_id = self.text_channel(world, gi, true)?;
                let user_id = self.random_member(world, gi, false)?;
                let member = world.guilds.get(gi)?.member(user_id)?.clone();
                json!({"channel_id": sid(channel_id), "guild_id": sid(gid), "user_id": sid(user_id),
                    "timestamp": now / 1000, "member": member})
            }
            "PRESENCE_UPDATE" => {
                let user_id = self.random_member(world, gi, false)?;
                let status = pick(&mut self.rng, STATUSES)?;
                let activities = if status == "offline" || self.rng.random_bool(0.5) {
                    json!([])
                } else {
                    json!([{"type": 0, "name": format!("activity_{}", self.rng.random_range(0..50))}])
                };
                let client_status = if status == "offline" {
                    json!({})
                } else {
                    json!({"desktop": status})
                };
                let d = json!({"user": {"id": sid(user_id)}, "guild_id": sid(gid), "status": status,
                    "activities": activities, "client_status": client_status});
                let g = world.guilds.get_mut(gi)?;
                if status == "offline" {
                    g.presences.remove(&user_id);
                } else {
                    g.presences.insert(user_id, d.clone());
                }
                d
            }
            "GUILD_MEMBER_ADD" => {
                let uid = world.new_id();
                let n = world.next_name();
                let mut m = world.templates.member.clone();
                m["user"]["id"] = sid(uid);
                m["user"]["username"] = json!(format!("user_{n}"));
                m["user"]["global_name"] = json!(format!("User {n}"));
                m["user"]["display_name"] = json!(format!("User {n}"));
                m["user"]["bot"] = json!(false);
                m["user"]["primary_guild"] = Value::Null;
                m["roles"] = json!([]);
                m["nick"] = Value::Null;
                m["joined_at"] = json!(iso8601(now));
                world.guilds.get_mut(gi)?.add_member(m.clone());
                m["guild_id"] = sid(gid);
                m
            }
            "GUILD_MEMBER_UPDATE" => {
                let user_id = self.random_member(world, gi, false)?;
                let g = world.guilds.get(gi)?;
                let roles: Vec<String> = g
                    .roles
                    .iter()
                    .filter_map(|r| id_of(r, "id"))
                    .filter(|id| *id != gid)
                    .map(|id| id.to_string())
                    .collect();
                let n = world.next_name();
                let take = self.rng.random_range(0..=roles.len().min(2));
                let g = world.guilds.get_mut(gi)?;
                let idx = *g.member_index.get(&user_id)?;
                let m = g.members.get_mut(idx)?;
                m["nick"] = json!(format!("nick_{n}"));
                m["roles"] = json!(roles.get(..take).unwrap_or(&[]));
                let mut d = m.clone();
                d["guild_id"] = sid(gid);
                d
            }
            "GUILD_MEMBER_REMOVE" => {
                if world.guilds.get(gi)?.members.len() < 3 {
                    return None;
                }
                let user_id = self.random_member(world, gi, true)?;
                let g = world.guilds.get_mut(gi)?;
                let m = g.remove_member(user_id)?;
                g.messages.retain(|msg| msg.author_id != user_id);
                for msg in &mut g.messages {
                    msg.reactions.retain(|(_, u)| *u != user_id);
                }
                json!({"guild_id": sid(gid), "user": m.get("user")?.clone()})
            }
            "VOICE_STATE_UPDATE" => {
                let user_id = self.random_member(world, gi, false)?;
                let voice = world.guilds.get(gi)?.voice_ids.clone();
                let in_voice = world.guilds.get(gi)?.voice_states.contains_key(&user_id);
                let channel = if in_voice && self.rng.random_bool(0.5) {
                    None
                } else {
                    Some(pick(&mut self.rng, &voice)?)
                };
                let mut d = world.templates.voice_state.clone();
                d["session_id"] = json!(format!("voice_{user_id}"));
                world
                    .guilds
                    .get_mut(gi)?
                    .voice_state_update(d, user_id, channel)?
            }
            "GUILD_ROLE_CREATE" => {
                let id = world.new_id();
                let n = world.next_name();
                let mut role = world.templates.role.clone();
                role["id"] = sid(id);
                role["name"] = json!(format!("role_{n}"));
                let g = world.guilds.get_mut(gi)?;
                role["position"] = json!(g.roles.len());
                g.roles.push(role.clone());
                json!({"guild_id": sid(gid), "role": role})
            }
            "GUILD_ROLE_UPDATE" => {
                let n = world.next_name();
                let color = self.rng.random_range(0..0x00FF_FFFFu32);
                let g = world.guilds.get_mut(gi)?;
                let candidates: Vec<usize> = (0..g.roles.len())
                    .filter(|i| g.roles.get(*i).and_then(|r| id_of(r, "id")) != Some(gid))
                    .collect();
                let i = pick(&mut self.rng, &candidates)?;
                let role = g.roles.get_mut(i)?;
                role["name"] = json!(format!("role_{n}"));
                role["color"] = json!(color);
                role["colors"] = json!({"primary_color": color, "secondary_color": null, "tertiary_color": null});
                json!({"guild_id": sid(gid), "role": role.clone()})
            }
            "GUILD_ROLE_DELETE" => {
                let g = world.guilds.get_mut(gi)?;
                let candidates: Vec<usize> = (0..g.roles.len())
                    .filter(|i| {
                        g.roles.get(*i).is_some_and(|r| {
                            id_of(r, "id") != Some(gid)
                                && r.get("managed") != Some(&Value::Bool(true))
                        })
                    })
                    .collect();
                let i = pick(&mut self.rng, &candidates)?;
                let role = g.roles.remove(i);
                let rid = role.get("id")?.clone();
                for m in &mut g.members {
                    if let Some(Value::Array(r)) = m.get_mut("roles") {
                        r.retain(|x| *x != rid);
                    }
                }
                json!({"guild_id": sid(gid), "role_id": rid})
            }
            "CHANNEL_CREATE" => {
                let id = world.new_id();
                let n = world.next_name();
                let g = world.guilds.get_mut(gi)?;
                let c = json!({"id": sid(id), "guild_id": sid(gid), "type": 0, "name": format!("channel-{n}"),
                    "position": g.channels.len(), "permission_overwrites": [], "topic": null,
                    "nsfw": false, "last_message_id": null, "rate_limit_per_user": 0, "parent_id": null, "flags": 0});
                g.channels.push(c.clone());
                g.created_channels.push(id);
                g.reindex();
                c
            }
            "CHANNEL_UPDATE" => {
                let n = world.next_name();
                let g = world.guilds.get_mut(gi)?;
                let i = self.rng.random_range(0..g.channels.len().max(1));
                let c = g.channels.get_mut(i)?;
                c["topic"] = json!(format!("topic {n}"));
                c["guild_id"] = sid(gid);
                c.clone()
            }
            "CHANNEL_DELETE" => {
                let g = world.guilds.get_mut(gi)?;
                let cid = pick(&mut self.rng, &g.created_channels)?;
                g.created_channels.retain(|c| *c != cid);
                let pos = g
                    .channels
                    .iter()
                    .position(|c| id_of(c, "id") == Some(cid))?;
                let mut c = g.channels.remove(pos);
                let dead_threads: Vec<u64> = g
                    .threads
                    .iter()
                    .filter(|t| id_of(t, "parent_id") == Some(cid))
                    .filter_map(|t| id_of(t, "id"))
                    .collect();
                g.threads.retain(|t| id_of(t, "parent_id") != Some(cid));
                g.reindex();
                g.messages
                    .retain(|m| m.channel_id != cid && !dead_threads.contains(&m.channel_id));
                c["guild_id"] = sid(gid);
                c
            }
            "THREAD_CREATE" => {
                let parent = pick(&mut self.rng, &world.guilds.get(gi)?.text_ids)?;
                let owner = self.random_member(world, gi, false)?;
                let id = world.new_id();
                let n = world.next_name();
                let mut t = world.templates.thread.clone();
                t["id"] = sid(id);
                t["guild_id"] = sid(gid);
                t["parent_id"] = sid(parent);
                t["owner_id"] = sid(owner);
                t["name"] = json!(format!("thread {n}"));
                t["thread_metadata"]["create_timestamp"] = json!(iso8601(now));
                t["thread_metadata"]["archive_timestamp"] = json!(iso8601(now));
                let mut stored = t.clone();
                if let Some(o) = stored.as_object_mut() {
                    o.remove("newly_created");
                }
                let g = world.guilds.get_mut(gi)?;
                g.threads.push(stored);
                g.reindex();
                t
            }
            "THREAD_UPDATE" => {
                let n = world.next_name();
                let g = world.guilds.get_mut(gi)?;
                let i = self.rng.random_range(0..g.threads.len().max(1));
                let t = g.threads.get_mut(i)?;
                t["name"] = json!(format!("thread {n}"));
                t.clone()
            }
            "THREAD_DELETE" => {
                let g = world.guilds.get_mut(gi)?;
                let i = self.rng.random_range(0..g.threads.len().max(1));
                if i >= g.threads.len() {
                    return None;
                }
                let t = g.threads.remove(i);
                g.reindex();
                let tid = id_of(&t, "id")?;
                g.messages.retain(|m| m.channel_id != tid);
                json!({"id": sid(tid), "guild_id": sid(gid), "parent_id": t.get("parent_id")?.clone(), "type": t.get("type")?.clone()})
            }
            "VOICE_CHANNEL_STATUS_UPDATE" => {
                let vc = pick(&mut self.rng, &world.guilds.get(gi)?.voice_ids)?;
                let n = world.next_name();
                json!({"status": format!("status {n}"), "guild_id": sid(gid), "id": sid(vc)})
            }
            "VOICE_CHANNEL_START_TIME_UPDATE" => {
                let vc = pick(&mut self.rng, &world.guilds.get(gi)?.voice_ids)?;
                json!({"voice_start_time": now / 1000, "guild_id": sid(gid), "id": sid(vc)})
            }
            _ => return None,
        };
        Some(Generated {
            guild_id: gid,
            name: kind,
            data,
        })
    }
}
