//! Gateway commands from `<root>-cmd/<shard>/<COMMAND>`: validated, then sent by the owning
//! shard.
//!
//! The body of a command message is the command's `d` object as Discord documents it
//! (<https://discord.com/developers/docs/events/gateway-events#send-events>). It is checked
//! against twilight-model's types (and the shard's guilds) before anything reaches Discord, because
//! Discord answers a malformed command by closing the connection (4002 decode error). The frame
//! sent is `{"op":<opcode>,"d":<body as received>}`.

use std::fmt;

use ddiscord::contract::Command;
use ddiscord::shard_for_guild;
use serde::Deserialize;
use twilight_model::gateway::payload::outgoing::request_guild_members::RequestGuildMembersInfo;
use twilight_model::gateway::payload::outgoing::update_presence::UpdatePresencePayload;
use twilight_model::gateway::payload::outgoing::update_voice_state::UpdateVoiceStateInfo;

/// Largest frame Discord accepts from a client, in bytes
/// (<https://discord.com/developers/docs/events/gateway#sending-events>).
pub const MAX_COMMAND_BYTES: usize = 4096;

/// Why a command was not sent. The text is what its sender sees in the `COMMAND_REJECTED`
/// lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The last topic level is not a command of `topics.yaml`.
    UnknownCommand(String),
    /// The frame would exceed Discord's 4096 bytes.
    TooLarge {
        /// Size of the frame in bytes.
        bytes: usize,
    },
    /// The body is not the command's `d` object.
    Invalid {
        /// The command.
        command: String,
        /// What the parser said.
        reason: String,
    },
    /// The guild of the command belongs to another shard.
    WrongShard {
        /// The guild.
        guild_id: u64,
        /// The shard that owns it.
        owner: u32,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCommand(c) => {
                let known: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
                write!(
                    f,
                    "unknown gateway command {c:?}; known: {}",
                    known.join(", ")
                )
            }
            Self::TooLarge { bytes } => write!(
                f,
                "command frame is {bytes} bytes; Discord accepts at most {MAX_COMMAND_BYTES}"
            ),
            Self::Invalid { command, reason } => {
                write!(f, "body is not a valid {command} `d` object: {reason}")
            }
            Self::WrongShard { guild_id, owner } => write!(
                f,
                "guild {guild_id} belongs to shard {owner}; publish to that shard's command topic"
            ),
        }
    }
}

impl Rejection {
    /// A short machine-readable code for metrics and the lifecycle event.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownCommand(_) => "unknown_command",
            Self::TooLarge { .. } => "too_large",
            Self::Invalid { .. } => "invalid",
            Self::WrongShard { .. } => "wrong_shard",
        }
    }
}

#[derive(Deserialize)]
struct SoundboardRequest {
    guild_ids: Vec<twilight_model::id::Id<twilight_model::id::marker::GuildMarker>>,
}

/// Checks a command for `shard` (of `shard_count`) and builds the frame to send.
///
/// # Errors
/// A [`Rejection`] saying what is wrong.
pub fn validate(
    command: &str,
    body: &[u8],
    shard: u32,
    shard_count: u32,
) -> Result<String, Rejection> {
    let Some(op) = Command::from_name(command).map(Command::opcode) else {
        return Err(Rejection::UnknownCommand(
            command.chars().take(64).collect(),
        ));
    };
    let invalid = |e: serde_json::Error| Rejection::Invalid {
        command: command.to_owned(),
        reason: e.to_string(),
    };
    let body = std::str::from_utf8(body).map_err(|e| Rejection::Invalid {
        command: command.to_owned(),
        reason: e.to_string(),
    })?;
    let frame = format!("{{\"op\":{op},\"d\":{}}}", body.trim());
    if frame.len() > MAX_COMMAND_BYTES {
        return Err(Rejection::TooLarge { bytes: frame.len() });
    }
    let guilds: Vec<u64> = match command {
        "PRESENCE_UPDATE" => {
            serde_json::from_str::<UpdatePresencePayload>(body).map_err(invalid)?;
            Vec::new()
        }
        "VOICE_STATE_UPDATE" => {
            let d: UpdateVoiceStateInfo = serde_json::from_str(body).map_err(invalid)?;
            vec![d.guild_id.get()]
        }
        "REQUEST_GUILD_MEMBERS" => {
            let d: RequestGuildMembersInfo = serde_json::from_str(body).map_err(invalid)?;
            if d.query.is_none() && d.user_ids.is_none() {
                return Err(Rejection::Invalid {
                    command: command.to_owned(),
                    reason: "one of `query` or `user_ids` is required".to_owned(),
                });
            }
            vec![d.guild_id.get()]
        }
        "REQUEST_SOUNDBOARD_SOUNDS" => {
            let d: SoundboardRequest = serde_json::from_str(body).map_err(invalid)?;
            d.guild_ids.iter().map(|g| g.get()).collect()
        }
        _ => {
            // A command the contract lists but this build does not know the shape of: at
            // least require a JSON object.
            let v: serde_json::Value = serde_json::from_str(body).map_err(invalid)?;
            if !v.is_object() {
                return Err(Rejection::Invalid {
                    command: command.to_owned(),
                    reason: "the body must be a JSON object".to_owned(),
                });
            }
            Vec::new()
        }
    };
    for guild_id in guilds {
        let owner = shard_for_guild(guild_id, shard_count);
        if owner != shard {
            return Err(Rejection::WrongShard { guild_id, owner });
        }
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_commands_pass_through() {
        let g = 81_384_788_765_712_384u64;
        let shard = shard_for_guild(g, 4);
        let body = format!(r#"{{"guild_id":"{g}","query":"","limit":0}}"#);
        let frame = validate("REQUEST_GUILD_MEMBERS", body.as_bytes(), shard, 4).unwrap();
        assert_eq!(frame, format!(r#"{{"op":8,"d":{body}}}"#));
        let presence = br#"{"since":null,"activities":[],"status":"online","afk":false}"#;
        assert!(validate("PRESENCE_UPDATE", presence, 0, 4).is_ok());
    }

    #[test]
    fn bad_commands_are_rejected_with_a_reason() {
        let g = 81_384_788_765_712_384u64;
        let shard = shard_for_guild(g, 4);
        let other = (shard + 1) % 4;
        let body = format!(
            r#"{{"guild_id":"{g}","channel_id":null,"self_mute":false,"self_deaf":false}}"#
        );
        let r = validate("VOICE_STATE_UPDATE", body.as_bytes(), other, 4).unwrap_err();
        assert_eq!(
            r,
            Rejection::WrongShard {
                guild_id: g,
                owner: shard
            }
        );
        let r = validate("NUKE", b"{}", 0, 4).unwrap_err();
        assert!(r.to_string().contains("PRESENCE_UPDATE"));
        let r = validate("PRESENCE_UPDATE", b"{\"status\":", 0, 4).unwrap_err();
        assert_eq!(r.code(), "invalid");
        let r = validate(
            "REQUEST_GUILD_MEMBERS",
            format!(r#"{{"guild_id":"{g}"}}"#).as_bytes(),
            shard,
            4,
        )
        .unwrap_err();
        assert!(r.to_string().contains("query"));
        let big = format!(r#"{{"guild_id":"{g}","query":"{}"}}"#, "x".repeat(5000));
        assert_eq!(
            validate("REQUEST_GUILD_MEMBERS", big.as_bytes(), shard, 4)
                .unwrap_err()
                .code(),
            "too_large"
        );
    }
}
