//! Gateway commands: published on `<root>-cmd/{shard}/{COMMAND}` for the shard that owns the
//! guild, `(guild_id >> 22) % shard_count`; ingest sends them to Discord.
//! Source: <https://discord.com/developers/docs/events/gateway-events#send-events>.

use bytes::Bytes;
use ddiscord::contract::Contract;
use napi_derive::napi;

use crate::client::Client;
use crate::error::{ErrorCode, NodeError, Result};
use crate::ids::snowflake;
use crate::mesh::Delivery;

impl Client {
    async fn publish_command(&self, shard: u32, command: &str, data: &str) -> Result<()> {
        self.check_open()?;
        if !Contract::get().commands.contains_key(command) {
            let known: Vec<&str> = Contract::get()
                .commands
                .keys()
                .map(String::as_str)
                .collect();
            return Err(NodeError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "unknown gateway command {command:?}; scripts may send {}",
                    known.join(", ")
                ),
            ));
        }
        if shard >= self.shard_count() {
            return Err(NodeError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "shard {shard} does not exist: the bot runs {} shard(s) (set `shards` or DDISCORD_SHARDS)",
                    self.shard_count()
                ),
            ));
        }
        let value: serde_json::Value = serde_json::from_str(data).map_err(|e| {
            NodeError::with_source(
                ErrorCode::InvalidArgument,
                "the command body is not JSON",
                e,
            )
        })?;
        if !value.is_object() {
            return Err(NodeError::new(
                ErrorCode::InvalidArgument,
                "the command body must be an object (the command's `d` as Discord documents it)",
            ));
        }
        let topic = self.topic_set().command(shard, command)?;
        self.mesh()
            .publish(
                &topic,
                Bytes::copy_from_slice(data.as_bytes()),
                Delivery::Guaranteed,
            )
            .await
            .map_err(|e| {
                NodeError::with_source(
                    ErrorCode::Connection,
                    format!("cannot publish {command}"),
                    e,
                )
            })
    }
}

#[napi]
impl Client {
    /// The shard that owns `guildId`: `(guild_id >> 22) % shards`.
    ///
    /// Errors: `DDISCORD_INVALID_ID`.
    #[napi]
    pub fn shard_for_guild(&self, guild_id: String) -> napi::Result<u32> {
        let id = snowflake("guild id", &guild_id)?;
        Ok(ddiscord::shard_for_guild(id, self.shard_count()))
    }

    /// Sends gateway command `command` (`PRESENCE_UPDATE`, `VOICE_STATE_UPDATE`,
    /// `REQUEST_GUILD_MEMBERS`, `REQUEST_SOUNDBOARD_SOUNDS`) with body `data` (the command's
    /// `d` as a JSON string) to `shard`, with guaranteed delivery: resolves once the broker has
    /// it. The JS entry offers typed helpers over this.
    ///
    /// Errors: `DDISCORD_INVALID_ARGUMENT` (unknown command, shard out of range, body not a
    /// JSON object), `DDISCORD_CLOSED`, `DDISCORD_CONNECTION`.
    #[napi]
    pub async fn send_command(
        &self,
        shard: u32,
        command: String,
        data: String,
    ) -> napi::Result<()> {
        Ok(self.publish_command(shard, &command, &data).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_lists_the_commands() {
        assert!(
            Contract::get()
                .commands
                .contains_key("REQUEST_GUILD_MEMBERS")
        );
    }
}
