//! Replay: send a JSONL file of gateway envelopes (like the fixtures) as one shard's session.
//! Dispatches (op 0) are renumbered by the session; other opcodes, READY and RESUMED are
//! skipped because the simulator sends its own.

use std::path::Path;

use serde_json::Value;

use crate::{SimError, SimErrorKind};

/// One dispatch read from a replay file.
#[derive(Debug, Clone)]
pub struct ReplayEvent {
    /// Event name (`t`).
    pub name: String,
    /// Guild snowflake from `d.guild_id` (or `d.id` for GUILD_* events).
    pub guild_id: Option<u64>,
    /// `d`, serialised.
    pub data: String,
}

/// The guild a dispatch belongs to: `d.guild_id`, or `d.id` for GUILD_CREATE/UPDATE/DELETE.
pub fn guild_of(name: &str, d: &Value) -> Option<u64> {
    let field = |k: &str| {
        d.get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    };
    field("guild_id").or_else(|| {
        if matches!(name, "GUILD_CREATE" | "GUILD_UPDATE" | "GUILD_DELETE") {
            field("id")
        } else {
            None
        }
    })
}

/// Reads the dispatches of a JSONL file.
pub fn load(path: &Path) -> Result<Vec<ReplayEvent>, SimError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SimError::with_source(
            SimErrorKind::ReplayRead {
                path: path.to_path_buf(),
            },
            e,
        )
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            let kind = SimErrorKind::ReplayLine {
                path: path.to_path_buf(),
                line: i + 1,
            };
            SimError::with_source(kind, e)
        })?;
        if v.get("op").and_then(Value::as_u64) != Some(0) {
            continue;
        }
        let Some(name) = v.get("t").and_then(Value::as_str) else {
            continue;
        };
        if matches!(name, "READY" | "RESUMED") {
            continue;
        }
        let d = v.get("d").cloned().unwrap_or(Value::Null);
        out.push(ReplayEvent {
            name: name.to_owned(),
            guild_id: guild_of(name, &d),
            data: d.to_string(),
        });
    }
    Ok(out)
}
