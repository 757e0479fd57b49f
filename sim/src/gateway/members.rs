//! Opcode 8 REQUEST_GUILD_MEMBERS, answered with GUILD_MEMBERS_CHUNK dispatches as Discord
//! documents them:
//! <https://discord.com/developers/docs/events/gateway-events#request-guild-members> and
//! <https://discord.com/developers/docs/events/gateway-events#guild-members-chunk>.
//!
//! - `query` matches usernames by prefix, case-insensitively; `query: ""` with `limit: 0` asks
//!   for every member; other queries return at most `limit` members, capped at 100.
//! - `user_ids` (one snowflake or up to 100) returns those members, and the ids that are not
//!   members in `not_found`; more than 100 closes the connection with 4002.
//! - Members come in chunks of at most 1,000, each with `chunk_index` and `chunk_count`; a
//!   request that matches nobody still gets one empty chunk.
//! - "`GUILD_MEMBERS` intent is required to request the entire member list" (`query: ""`,
//!   whatever the `limit`): without it the request is not answered, as Discord leaves it
//!   unanswered rather than closing the connection.
//! - "`GUILD_PRESENCES` intent is required to set `presences = true`. Otherwise, it will always
//!   be false": without it the chunks carry no `presences`.
//! - `nonce` (at most 32 bytes, otherwise ignored) is echoed in every chunk.
//! - A request for every member (`query: ""`, `limit: 0`) is limited to one per guild per 30 s
//!   of the simulated clock, for the whole bot (every shard and session); one over the limit is
//!   answered with a RATE_LIMITED dispatch, `{"opcode": 8, "retry_after": <seconds>, "meta":
//!   {"guild_id", "nonce"}}`, and no chunks
//!   (<https://discord.com/developers/docs/events/gateway-events#rate-limited>,
//!   <https://discord.com/developers/docs/change-log#introducing-rate-limit-when-requesting-all-guild-members>).
//! - A guild that is not on the connection's shard, or not a guild of the world, is not answered.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::commands::{BadCommand, Dispatch};
use crate::world::{World, snowflake, user_id_of};

/// Members per GUILD_MEMBERS_CHUNK (Discord: 1,000).
pub const CHUNK_SIZE: usize = 1000;
/// Most members a query other than "all" returns, and most `user_ids` (Discord: 100).
pub const QUERY_LIMIT: usize = 100;
/// Longest nonce echoed, in bytes (Discord: 32).
pub const MAX_NONCE_BYTES: usize = 32;
/// Shortest time between two requests for every member of one guild, in ms of the simulated
/// clock (Discord: one per guild per bot every 30 s).
pub const ALL_MEMBERS_INTERVAL_MS: u64 = 30_000;

/// The session a request comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asker {
    /// The connection's shard.
    pub shard: u32,
    /// Shards the simulator serves.
    pub shard_count: u32,
    /// The session's IDENTIFY intents.
    pub intents: u64,
    /// Now, in ms of the simulated clock.
    pub now_ms: u64,
}

/// When each guild's members were last requested in full, for the per-guild limit of
/// [`ALL_MEMBERS_INTERVAL_MS`]; one per simulator, as the limit is per bot.
#[derive(Debug, Default)]
pub(crate) struct MemberRequestLimit {
    last_ms: HashMap<u64, u64>,
}

impl MemberRequestLimit {
    /// Counts a request for every member of `guild` at `now_ms`, or returns the ms until one
    /// is allowed again (the refused request does not count).
    fn take(&mut self, guild: u64, now_ms: u64) -> Result<(), u64> {
        if let Some(last) = self.last_ms.get(&guild) {
            let free_at = last.saturating_add(ALL_MEMBERS_INTERVAL_MS);
            if now_ms < free_at {
                return Err(free_at - now_ms);
            }
        }
        self.last_ms.insert(guild, now_ms);
        Ok(())
    }
}

/// The parsed request.
struct Request {
    guild_id: u64,
    query: Option<String>,
    limit: usize,
    user_ids: Option<Vec<u64>>,
    presences: bool,
    nonce: Option<String>,
}

fn parse(d: &Value) -> Result<Request, BadCommand> {
    let guild_id = d
        .get("guild_id")
        .and_then(snowflake)
        .ok_or(BadCommand("op 8 needs guild_id, a snowflake string"))?;
    let user_ids = match d.get("user_ids") {
        None | Some(Value::Null) => None,
        Some(Value::Array(ids)) => Some(
            ids.iter()
                .map(snowflake)
                .collect::<Option<Vec<u64>>>()
                .ok_or(BadCommand("op 8 user_ids must be snowflake strings"))?,
        ),
        Some(one) => {
            Some(vec![snowflake(one).ok_or(BadCommand(
                "op 8 user_ids must be snowflake strings",
            ))?])
        }
    };
    let query = d.get("query").and_then(Value::as_str).map(str::to_owned);
    if query.is_none() && user_ids.is_none() {
        return Err(BadCommand("op 8 needs query or user_ids"));
    }
    if user_ids.as_ref().is_some_and(|ids| ids.len() > QUERY_LIMIT) {
        return Err(BadCommand("op 8 takes at most 100 user_ids"));
    }
    let limit = d
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(0, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let nonce = d
        .get("nonce")
        .and_then(Value::as_str)
        .filter(|n| n.len() <= MAX_NONCE_BYTES)
        .map(str::to_owned);
    Ok(Request {
        guild_id,
        query,
        limit,
        user_ids,
        presences: d.get("presences").and_then(Value::as_bool) == Some(true),
        nonce,
    })
}

/// The dispatches answering `d` from `asker`: GUILD_MEMBERS_CHUNKs, a RATE_LIMITED, or none
/// when the request is not answered (see the module docs).
///
/// # Errors
/// [`BadCommand`] for a payload that is not a request Discord accepts.
pub(crate) fn chunks(
    world: &World,
    limit: &mut MemberRequestLimit,
    d: &Value,
    asker: &Asker,
) -> Result<Vec<Dispatch>, BadCommand> {
    let r = parse(d)?;
    let Some(guild) = world.guild(r.guild_id) else {
        return Ok(Vec::new());
    };
    if crate::world::shard_of(r.guild_id, asker.shard_count) != asker.shard {
        return Ok(Vec::new());
    }
    let everyone = r.user_ids.is_none() && r.query.as_deref() == Some("");
    if everyone && asker.intents & crate::config::INTENT_GUILD_MEMBERS == 0 {
        return Ok(Vec::new());
    }
    if everyone
        && r.limit == 0
        && let Err(wait_ms) = limit.take(r.guild_id, asker.now_ms)
    {
        return Ok(vec![rate_limited(&r, wait_ms)]);
    }
    let may_see_presences = asker.intents & crate::config::INTENT_GUILD_PRESENCES != 0;
    let mut not_found = Vec::new();
    let members: Vec<&Value> = if let Some(ids) = &r.user_ids {
        ids.iter()
            .filter_map(|id| {
                let m = guild.member(*id);
                if m.is_none() {
                    not_found.push(Value::String(id.to_string()));
                }
                m
            })
            .collect()
    } else {
        let query = r.query.as_deref().unwrap_or_default().to_lowercase();
        let limit = if query.is_empty() && r.limit == 0 {
            usize::MAX
        } else {
            r.limit.clamp(1, QUERY_LIMIT)
        };
        guild
            .members
            .iter()
            .filter(|m| {
                m.pointer("/user/username")
                    .and_then(Value::as_str)
                    .is_some_and(|name| name.to_lowercase().starts_with(&query))
            })
            .take(limit)
            .collect()
    };
    let count = members.len().div_ceil(CHUNK_SIZE).max(1);
    let mut out = Vec::with_capacity(count);
    let mut parts = members.chunks(CHUNK_SIZE);
    for index in 0..count {
        let part = parts.next().unwrap_or(&[]);
        let mut chunk = Map::new();
        chunk.insert("guild_id".into(), json!(r.guild_id.to_string()));
        chunk.insert("members".into(), json!(part));
        chunk.insert("chunk_index".into(), json!(index));
        chunk.insert("chunk_count".into(), json!(count));
        if !not_found.is_empty() {
            chunk.insert("not_found".into(), json!(not_found));
        }
        if r.presences && may_see_presences {
            let presences: Vec<&Value> = part
                .iter()
                .filter_map(|m| user_id_of(m).and_then(|u| guild.presences.get(&u)))
                .collect();
            chunk.insert("presences".into(), json!(presences));
        }
        if let Some(nonce) = &r.nonce {
            chunk.insert("nonce".into(), json!(nonce));
        }
        out.push((
            "GUILD_MEMBERS_CHUNK",
            Some(r.guild_id),
            Value::Object(chunk).to_string(),
        ));
    }
    Ok(out)
}

/// The RATE_LIMITED dispatch refusing `r`, `wait_ms` before another is allowed
/// (<https://discord.com/developers/docs/events/gateway-events#rate-limited>). It belongs to
/// no guild: the guild is in `meta`.
fn rate_limited(r: &Request, wait_ms: u64) -> Dispatch {
    let mut meta = Map::new();
    meta.insert("guild_id".into(), json!(r.guild_id.to_string()));
    if let Some(nonce) = &r.nonce {
        meta.insert("nonce".into(), json!(nonce));
    }
    // Seconds as a float, as Discord sends it.
    #[allow(clippy::cast_precision_loss)]
    let retry_after = wait_ms as f64 / 1000.0;
    let d = json!({"opcode": 8, "retry_after": retry_after, "meta": meta});
    ("RATE_LIMITED", None, d.to_string())
}
