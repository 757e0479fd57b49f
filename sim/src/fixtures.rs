//! Locating and loading the captured Discord payloads in `../shared/fixtures/discord`.
//!
//! The fixtures are read in place and never copied into the repository.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{SimError, SimErrorKind};

/// Environment variable that overrides where the fixtures live.
pub const FIXTURES_ENV: &str = "DDISCORD_FIXTURES";

/// Finds the fixtures directory: `explicit`, else `DDISCORD_FIXTURES`, else
/// `<repo root>/../shared/fixtures/discord` (repo root as this crate was built), else
/// `../shared/fixtures/discord` from the working directory.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, SimError> {
    if let Some(p) = explicit {
        return existing(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(FIXTURES_ENV) {
        return existing(PathBuf::from(p));
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/discord");
    if built.is_dir() {
        return Ok(built);
    }
    existing(PathBuf::from("../shared/fixtures/discord"))
}

fn existing(path: PathBuf) -> Result<PathBuf, SimError> {
    if path.is_dir() {
        Ok(path)
    } else {
        Err(SimError::new(SimErrorKind::FixturesMissing { path }))
    }
}

/// The captured envelopes, parsed.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// Every envelope of `events_v10.jsonl` then `events_v6_upgraded.jsonl`, in file order.
    pub envelopes: Vec<Value>,
    /// `d` of the captured 9,593-member GUILD_CREATE, if it was asked for.
    pub large_guild: Option<Value>,
}

impl Fixtures {
    /// Loads the fixtures from `dir`; the 3 MB large guild only if `large_guild`.
    pub fn load(dir: &Path, large_guild: bool) -> Result<Self, SimError> {
        let mut envelopes = Vec::new();
        for name in ["events_v10.jsonl", "events_v6_upgraded.jsonl"] {
            envelopes.extend(read_jsonl(&dir.join(name))?);
        }
        let large_guild = if large_guild {
            let path = dir.join("guild_create_large.json");
            let text = read(&path)?;
            let v: Value = serde_json::from_str(&text).map_err(|e| {
                let what = "a GUILD_CREATE envelope".to_owned();
                SimError::with_source(
                    SimErrorKind::FixtureJson {
                        path: path.clone(),
                        what,
                    },
                    e,
                )
            })?;
            Some(v.get("d").cloned().ok_or_else(|| {
                let what = "missing field d".to_owned();
                SimError::new(SimErrorKind::FixtureJson { path, what })
            })?)
        } else {
            None
        };
        Ok(Self {
            envelopes,
            large_guild,
        })
    }

    /// `d` of the first envelope named `t` for which `pick` is true.
    pub fn find(&self, t: &str, pick: impl Fn(&Value) -> bool) -> Option<&Value> {
        self.envelopes
            .iter()
            .filter(|e| e.get("t").and_then(Value::as_str) == Some(t))
            .filter_map(|e| e.get("d"))
            .find(|d| pick(d))
    }

    /// `d` of every envelope named `t`.
    pub fn all(&self, t: &str) -> Vec<&Value> {
        self.envelopes
            .iter()
            .filter(|e| e.get("t").and_then(Value::as_str) == Some(t))
            .filter_map(|e| e.get("d"))
            .collect()
    }
}

fn read(path: &Path) -> Result<String, SimError> {
    std::fs::read_to_string(path).map_err(|e| {
        SimError::with_source(
            SimErrorKind::FixtureRead {
                path: path.to_path_buf(),
            },
            e,
        )
    })
}

fn read_jsonl(path: &Path) -> Result<Vec<Value>, SimError> {
    let text = read(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| {
                let what = "one envelope per line".to_owned();
                let path = path.to_path_buf();
                SimError::with_source(SimErrorKind::FixtureJson { path, what }, e)
            })
        })
        .collect()
}
