//! The topic contract, `topics.yaml`, as typed Rust generated at build time.
//!
//! `build.rs` reads the file and writes this module's constants and enums, so no YAML is parsed
//! at run time and a malformed file fails the build. Code that needs a fact of the contract
//! (the placeholder level, the trees, the gateway commands and their opcodes, the lifecycle
//! events, the known dispatch names and where their guild id comes from, the limits) reads it
//! from here. `model/tests/contract.rs` checks the topic builders against the trees' templates.

/// Where the guild level of a dispatch comes from (the `dispatches` map of `topics.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuildSource {
    /// `d.guild_id`, always present.
    GuildId,
    /// `d.guild_id` when present; events in direct messages have none.
    Optional,
    /// `d.id`: the payload is the guild itself (GUILD_CREATE, GUILD_UPDATE, GUILD_DELETE).
    Id,
    /// The event never belongs to a guild; the placeholder level is used.
    None,
}

/// Solace's topic limits, which are stricter than MQTT's
/// (<https://docs.solace.com/Messaging/SMF-Topics.htm>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest topic or subscription, in bytes.
    pub max_bytes: usize,
    /// Most levels in a topic or subscription.
    pub max_levels: usize,
}

include!(concat!(env!("OUT_DIR"), "/contract.rs"));

/// Where the guild level of dispatch `event` comes from; names `topics.yaml` does not list are
/// [`GuildSource::Optional`].
pub fn guild_source(event: &str) -> GuildSource {
    DISPATCHES
        .binary_search_by(|(name, _)| (*name).cmp(event))
        .map(|i| DISPATCHES[i].1)
        .unwrap_or(GuildSource::Optional)
}

/// Whether `event` is a dispatch name Discord documents (listed in `topics.yaml`).
pub fn is_known_dispatch(event: &str) -> bool {
    DISPATCHES
        .binary_search_by(|(name, _)| (*name).cmp(event))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tables() {
        assert_eq!(VERSION, 1);
        assert!(DISPATCHES.len() > 60);
        assert!(DISPATCHES.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
        assert_eq!(
            Command::from_name("PRESENCE_UPDATE"),
            Some(Command::PresenceUpdate)
        );
        assert_eq!(Command::PresenceUpdate.opcode(), 3);
        assert_eq!(Tree::DeadLetter.name(), "dead_letter");
        assert_eq!(
            LifecycleEvent::from_name("SEQUENCE_GAP"),
            Some(LifecycleEvent::SequenceGap)
        );
    }
}
