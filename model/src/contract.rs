//! The topic contract, `topics.yaml`, embedded at build time.
//!
//! Code that needs a fact of the contract (the placeholder level, the known dispatch names and
//! where their guild id comes from, the limits) reads it from here, so the file stays the single
//! source. `sdk-rust/tests/contract.rs` fails when the code's constants and the file disagree.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// The contract file as shipped with this crate.
pub const TOPICS_YAML: &str = include_str!("../../topics.yaml");

/// Where the guild level of a dispatch comes from (the `dispatches` map of `topics.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// Solace's topic limits, which are stricter than MQTT's.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Limits {
    /// Longest topic or subscription, in bytes.
    pub max_bytes: usize,
    /// Most levels in a topic or subscription.
    pub max_levels: usize,
}

/// One tree of the contract (`dispatch`, `state`, `command`, `lifecycle`).
#[derive(Debug, Clone, Deserialize)]
pub struct TreeSpec {
    /// The level template, e.g. `{root}/{shard}/{guild}/{event}`.
    pub pattern: String,
    /// What the tree carries.
    pub description: String,
    /// Each variable level and its format.
    pub levels: BTreeMap<String, String>,
}

/// The parsed `topics.yaml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Contract {
    /// Version of the contract; bumped on incompatible changes.
    pub version: u32,
    /// Root used when none is configured.
    pub default_root: String,
    /// Topic limits.
    pub limits: Limits,
    /// Guild level of events without a guild.
    pub no_guild_placeholder: String,
    /// The topic trees by name.
    pub trees: BTreeMap<String, TreeSpec>,
    /// Gateway commands scripts may send, with their opcode.
    pub commands: BTreeMap<String, u8>,
    /// Lifecycle event names published by ingest.
    pub lifecycle_events: Vec<String>,
    /// Envelope fields and their description.
    pub envelope: BTreeMap<String, String>,
    /// Known dispatch names and where their guild id comes from.
    pub dispatches: BTreeMap<String, GuildSource>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
    // The file is embedded at build time and parsed by a unit test, so a parse failure here is
    // a build defect, not a runtime condition.
    #[allow(clippy::expect_used)]
    serde_yaml_ng::from_str(TOPICS_YAML).expect("topics.yaml embedded in the build is valid")
});

impl Contract {
    /// The contract embedded in this build.
    pub fn get() -> &'static Contract {
        &CONTRACT
    }

    /// Where the guild level of dispatch `event` comes from; unknown names are
    /// [`GuildSource::Optional`].
    pub fn guild_source(&self, event: &str) -> GuildSource {
        self.dispatches
            .get(event)
            .copied()
            .unwrap_or(GuildSource::Optional)
    }

    /// Whether `event` is a dispatch name Discord documents.
    pub fn is_known_dispatch(&self, event: &str) -> bool {
        self.dispatches.contains_key(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_file_parses() {
        let c: Contract = serde_yaml_ng::from_str(TOPICS_YAML).unwrap();
        assert_eq!(c.version, 1);
        assert!(c.dispatches.len() > 60);
    }
}
