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
//!   `channel_id: null` leaves. A guild that is not the shard's, or a channel that is not one of
//!   the guild's voice channels, is ignored.

use serde_json::{Value, json};

use super::commands::{BadCommand, Dispatch};
use crate::world::{World, shard_of, snowflake};

/// Statuses a client may set (Discord's status types).
const STATUSES: [&str; 5] = ["online", "dnd", "idle", "invisible", "offline"];

/// Opcode 3: the bot's new presence in every guild of `shard` and the PRESENCE_UPDATEs.
///
/// # Errors
/// [`BadCommand`] when `status` or `activities` is missing or not a documented value.
pub(crate) fn presence(
    world: &mut World,
    d: &Value,
    shard: u32,
    shard_count: u32,
) -> Result<Vec<Dispatch>, BadCommand> {
    let status = d
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| STATUSES.contains(s))
        .ok_or(BadCommand(
            "op 3 status must be online, dnd, idle, invisible or offline",
        ))?;
    let activities = d
        .get("activities")
        .filter(|a| a.is_array())
        .cloned()
        .ok_or(BadCommand("op 3 needs activities, an array"))?;
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
        out.push(("PRESENCE_UPDATE", Some(gid), p.to_string()));
    }
    Ok(out)
}

/// Opcode 4: the bot's voice state in the guild, and the dispatches that answer it.
///
/// # Errors
/// [`BadCommand`] when `guild_id` is missing or an id is not a snowflake.
pub(crate) fn voice_state(
    world: &mut World,
    d: &Value,
    shard: u32,
    shard_count: u32,
    session_id: &str,
) -> Result<Vec<Dispatch>, BadCommand> {
    let gid = d
        .get("guild_id")
        .and_then(snowflake)
        .ok_or(BadCommand("op 4 needs guild_id, a snowflake string"))?;
    let channel = match d.get("channel_id") {
        None | Some(Value::Null) => None,
        Some(c) => {
            Some(snowflake(c).ok_or(BadCommand("op 4 channel_id must be a snowflake or null"))?)
        }
    };
    let flag = |k: &str| d.get(k).and_then(Value::as_bool).unwrap_or(false);
    let (self_mute, self_deaf) = (flag("self_mute"), flag("self_deaf"));
    if shard_of(gid, shard_count) != shard {
        return Ok(Vec::new());
    }
    let bot = world.bot_id;
    let mut update = world.templates.voice_state.clone();
    update["session_id"] = json!(session_id);
    update["self_mute"] = json!(self_mute);
    update["self_deaf"] = json!(self_deaf);
    let Some(guild) = world.guild_mut(gid) else {
        return Ok(Vec::new());
    };
    if channel.is_some_and(|c| !guild.voice_ids.contains(&c)) {
        return Ok(Vec::new());
    }
    let Some(state) = guild.voice_state_update(update, bot, channel) else {
        return Ok(Vec::new());
    };
    let mut out = vec![("VOICE_STATE_UPDATE", Some(gid), state.to_string())];
    if channel.is_some() {
        out.push((
            "VOICE_SERVER_UPDATE",
            Some(gid),
            json!({"token": format!("sim-voice-{gid}"), "guild_id": gid.to_string(),
                   "endpoint": "voice.sim.invalid:443"})
            .to_string(),
        ));
    }
    Ok(out)
}
