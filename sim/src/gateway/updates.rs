//! Opcodes 3 UPDATE_PRESENCE and 4 UPDATE_VOICE_STATE: the bot's presence and voice state
//! change in the world, and the dispatches Discord sends back follow.
//!
//! - [Update Presence](https://discord.com/developers/docs/events/gateway-events#update-presence):
//!   `{since, activities, status, afk}`; every guild of the shard gets a
//!   [PRESENCE_UPDATE](https://discord.com/developers/docs/events/gateway-events#presence-update)
//!   for the bot (`invisible` shows as `offline`), delivered with `GUILD_PRESENCES`.
//! - [Update Voice State](https://discord.com/developers/docs/events/gateway-events#update-voice-state):
//!   `{guild_id, channel_id, self_mute, self_deaf}`; the guild gets a
//!   [VOICE_STATE_UPDATE](https://discord.com/developers/docs/events/gateway-events#voice-state-update)
//!   for the bot (delivered with `GUILD_VOICE_STATES`), and joining or moving also a
//!   [VOICE_SERVER_UPDATE](https://discord.com/developers/docs/events/gateway-events#voice-server-update).
//!   `channel_id: null` leaves. A guild or voice channel that is not the shard's is ignored.

use serde_json::{Value, json};

use crate::world::{World, shard_of};

/// Statuses a client may set (Discord's status types).
const STATUSES: [&str; 5] = ["online", "dnd", "idle", "invisible", "offline"];

/// Channel types a voice state may be in: GUILD_VOICE (2) and GUILD_STAGE_VOICE (13).
const VOICE_TYPES: [u64; 2] = [2, 13];

/// Why an opcode 3 or 4 payload was refused (the connection closes with 4002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadUpdate(pub &'static str);

/// One dispatch to send: event name, guild, `d` as JSON text.
pub(crate) type Dispatch = (&'static str, u64, String);

/// Opcode 3: the bot's new presence in every guild of `shard` and the PRESENCE_UPDATEs.
///
/// # Errors
/// [`BadUpdate`] when `status` or `activities` is missing or not a documented value.
pub(crate) fn presence(
    world: &mut World,
    d: &Value,
    shard: u32,
    shard_count: u32,
) -> Result<Vec<Dispatch>, BadUpdate> {
    let status = d
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| STATUSES.contains(s))
        .ok_or(BadUpdate(
            "op 3 status must be online, dnd, idle, invisible or offline",
        ))?;
    let activities = d
        .get("activities")
        .filter(|a| a.is_array())
        .cloned()
        .ok_or(BadUpdate("op 3 needs activities, an array"))?;
    let shown = if status == "invisible" {
        "offline"
    } else {
        status
    };
    let bot = world.bot_id;
    let mut out = Vec::new();
    for gid in world.guilds_of_shard(shard, shard_count) {
        let Some(guild) = world.guild_mut(gid) else {
            continue;
        };
        let p = json!({
            "user": {"id": bot.to_string()},
            "guild_id": gid.to_string(),
            "status": shown,
            "activities": activities,
            "client_status": if shown == "offline" { json!({}) } else { json!({"web": shown}) },
        });
        if shown == "offline" {
            guild.presences.remove(&bot);
        } else {
            guild.presences.insert(bot, p.clone());
        }
        out.push(("PRESENCE_UPDATE", gid, p.to_string()));
    }
    Ok(out)
}

/// Opcode 4: the bot's voice state in the guild, and the dispatches that answer it.
///
/// # Errors
/// [`BadUpdate`] when `guild_id` is missing or an id is not a snowflake.
pub(crate) fn voice_state(
    world: &mut World,
    d: &Value,
    shard: u32,
    shard_count: u32,
    session_id: &str,
) -> Result<Vec<Dispatch>, BadUpdate> {
    let snowflake = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok());
    let gid = d
        .get("guild_id")
        .and_then(snowflake)
        .ok_or(BadUpdate("op 4 needs guild_id, a snowflake string"))?;
    let channel = match d.get("channel_id") {
        None | Some(Value::Null) => None,
        Some(c) => {
            Some(snowflake(c).ok_or(BadUpdate("op 4 channel_id must be a snowflake or null"))?)
        }
    };
    let flag = |k: &str| d.get(k).and_then(Value::as_bool).unwrap_or(false);
    let (self_mute, self_deaf) = (flag("self_mute"), flag("self_deaf"));
    if shard_of(gid, shard_count) != shard {
        return Ok(Vec::new());
    }
    let bot = world.bot_id;
    let Some(guild) = world.guild_mut(gid) else {
        return Ok(Vec::new());
    };
    if let Some(c) = channel {
        let is_voice = guild.channels.iter().any(|ch| {
            ch.get("id").and_then(snowflake) == Some(c)
                && ch
                    .get("type")
                    .and_then(Value::as_u64)
                    .is_some_and(|t| VOICE_TYPES.contains(&t))
        });
        if !is_voice {
            return Ok(Vec::new());
        }
    }
    let member = guild.member(bot).cloned().unwrap_or(Value::Null);
    let state = json!({
        "guild_id": gid.to_string(),
        "channel_id": channel.map(|c| c.to_string()),
        "user_id": bot.to_string(),
        "member": member,
        "session_id": session_id,
        "deaf": false,
        "mute": false,
        "self_deaf": self_deaf,
        "self_mute": self_mute,
        "self_video": false,
        "suppress": false,
        "request_to_speak_timestamp": null,
    });
    let mut out = Vec::new();
    if channel.is_some() {
        let mut kept = state.clone();
        if let Some(o) = kept.as_object_mut() {
            o.remove("member");
        }
        guild.voice_states.insert(bot, kept);
    } else {
        guild.voice_states.remove(&bot);
    }
    out.push(("VOICE_STATE_UPDATE", gid, state.to_string()));
    if channel.is_some() {
        out.push((
            "VOICE_SERVER_UPDATE",
            gid,
            json!({"token": format!("sim-voice-{gid}"), "guild_id": gid.to_string(),
                   "endpoint": "voice.sim.invalid:443"})
            .to_string(),
        ));
    }
    Ok(out)
}
