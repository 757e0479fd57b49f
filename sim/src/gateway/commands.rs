//! Gateway commands a client sends after IDENTIFY (opcodes 3, 4 and 8), each answered with the
//! dispatches Discord sends back: [`super::updates`] for presence and voice, [`super::members`]
//! for member requests.

use serde_json::Value;

use super::session::Session;
use crate::world::World;

/// Why a command payload was refused (the connection closes with 4002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadCommand(pub &'static str);

/// One dispatch answering a command: event name, guild, `d` as JSON text.
pub(crate) type Dispatch = (&'static str, u64, String);

/// The dispatches answering opcode `op` (3, 4 or 8) with payload `d` on `session`, of a
/// simulator serving `shard_count` shards; the world changes with it (presence, voice state).
///
/// # Errors
/// [`BadCommand`] for a payload Discord would refuse.
pub(crate) fn answer(
    world: &mut World,
    op: u64,
    d: &Value,
    session: &Session,
    shard_count: u32,
) -> Result<Vec<Dispatch>, BadCommand> {
    match op {
        3 => super::updates::presence(world, d, session.shard, shard_count),
        4 => super::updates::voice_state(world, d, session.shard, shard_count, &session.id),
        _ => {
            let presences = session.intents & crate::config::INTENT_GUILD_PRESENCES != 0;
            super::members::chunks(world, d, session.shard, shard_count, presences)
        }
    }
}
