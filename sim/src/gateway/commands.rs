//! Gateway commands a client sends after IDENTIFY (opcodes 3, 4 and 8), each answered with the
//! dispatches Discord sends back: [`super::updates`] for presence and voice, [`super::members`]
//! for member requests.

use serde_json::Value;

use super::members::{Asker, MemberRequestLimit};
use super::session::Session;
use crate::world::World;

/// Why a command payload was refused (the connection closes with 4002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadCommand(pub &'static str);

/// One dispatch answering a command: event name, guild (none for RATE_LIMITED), `d` as JSON
/// text.
pub(crate) type Dispatch = (&'static str, Option<u64>, String);

/// The dispatches answering opcode `op` (3, 4 or 8) with payload `d` on `session`, of a
/// simulator serving `shard_count` shards, at `now_ms` of the simulated clock; the world
/// changes with it (presence, voice state), and `limit` with each request for every member of
/// a guild.
///
/// # Errors
/// [`BadCommand`] for a payload Discord would refuse.
pub(crate) fn answer(
    world: &mut World,
    limit: &mut MemberRequestLimit,
    op: u64,
    d: &Value,
    session: &Session,
    shard_count: u32,
    now_ms: u64,
) -> Result<Vec<Dispatch>, BadCommand> {
    match op {
        3 => super::updates::presence(world, d, session.shard, shard_count),
        4 => super::updates::voice_state(world, d, session.shard, shard_count, &session.id),
        _ => {
            let asker = Asker {
                shard: session.shard,
                shard_count,
                intents: session.intents,
                now_ms,
            };
            super::members::chunks(world, limit, d, &asker)
        }
    }
}
