//! Gateway commands: published on `<root>-cmd/{shard}/{COMMAND}` for the shard that owns the
//! guild, `(guild_id >> 22) % shard_count`; ingest sends them to Discord.
//! Source: <https://discord.com/developers/docs/events/gateway-events#send-events>.

use ddiscord::client::{MemberRequest, VoiceStateRequest};
use napi_derive::napi;

use crate::client::Client;
use crate::error::{ErrorKind, NodeError, Result, Settled};
use crate::ids::{snowflake, snowflakes};
use crate::subscription::Subscription;

/// What `requestGuildMembers` asks for (opcode 8, REQUEST_GUILD_MEMBERS).
#[napi(object)]
#[derive(Debug, Default, Clone)]
pub struct MemberRequestOptions {
    /// Username prefix to match; `""` (the default when `userIds` is absent) asks for every
    /// member, which needs the GUILD_MEMBERS intent.
    pub query: Option<String>,
    /// Most members to return (0: no limit, with `query: ""` only).
    pub limit: Option<u32>,
    /// Include presences (needs the GUILD_PRESENCES intent).
    pub presences: Option<bool>,
    /// Specific members (at most 100) instead of a query, as snowflake strings.
    pub user_ids: Option<Vec<String>>,
    /// The nonce that marks the answering chunks (at most 32 bytes; generated when absent).
    pub nonce: Option<String>,
}

fn json(what: &str, body: &str) -> Result<serde_json::Value> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| {
        NodeError::with_source(ErrorKind::InvalidArgument, format!("{what} is not JSON"), e)
    })?;
    if !value.is_object() {
        return Err(NodeError::new(
            ErrorKind::InvalidArgument,
            format!("{what} must be an object (the command's `d` as Discord documents it)"),
        ));
    }
    Ok(value)
}

#[napi]
impl Client {
    /// The shard that owns `guildId` among the configured shards: `(guild_id >> 22) % shards`.
    ///
    /// Errors: `DDISCORD_INVALID_ID`.
    #[napi]
    pub fn shard_for(&self, guild_id: String) -> napi::Result<u32, String> {
        Ok(self.core().shard_for(snowflake("guild_id", &guild_id)?))
    }

    /// Sends gateway command `command` (`PRESENCE_UPDATE`, `VOICE_STATE_UPDATE`,
    /// `REQUEST_GUILD_MEMBERS`, `REQUEST_SOUNDBOARD_SOUNDS`) with body `body` (the command's
    /// `d` as JSON text) to `shard`, with guaranteed delivery: resolves once the broker has it.
    ///
    /// Errors: `DDISCORD_CONFIG` (unknown command, shard out of range),
    /// `DDISCORD_INVALID_ARGUMENT` (body not a JSON object), `DDISCORD_CLOSED`, `DDISCORD_MESH`.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn send_command(&self, shard: u32, command: String, body: String) -> Settled<()> {
        Settled(
            async {
                self.check_open()?;
                let d = json("the command body", &body)?;
                self.core()
                    .send_command(shard, &command, &d)
                    .await
                    .map_err(NodeError::from)?;
                Ok(())
            }
            .await,
        )
    }

    /// Joins, moves or leaves (`channelId` null) a voice channel: VOICE_STATE_UPDATE (opcode 4)
    /// to the shard that owns the guild.
    ///
    /// Errors: `DDISCORD_INVALID_ID`, `DDISCORD_CLOSED`, `DDISCORD_MESH`.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn update_voice_state(
        &self,
        guild_id: String,
        channel_id: Option<String>,
        self_mute: bool,
        self_deaf: bool,
    ) -> Settled<()> {
        Settled(
            async {
                self.check_open()?;
                let request = VoiceStateRequest {
                    guild_id: snowflake("guild_id", &guild_id)?,
                    channel_id: channel_id
                        .map(|c| snowflake("channel_id", &c))
                        .transpose()?,
                    self_mute,
                    self_deaf,
                };
                self.core()
                    .update_voice_state(&request)
                    .await
                    .map_err(NodeError::from)?;
                Ok(())
            }
            .await,
        )
    }

    /// Sets the bot's presence on every shard: PRESENCE_UPDATE (opcode 3) with `body`
    /// (`{"since", "activities", "status", "afk"}` as JSON text).
    ///
    /// Errors: `DDISCORD_INVALID_ARGUMENT`, `DDISCORD_CLOSED`, `DDISCORD_MESH`.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn update_presence(&self, body: String) -> Settled<()> {
        Settled(
            async {
                self.check_open()?;
                let d = json("the presence", &body)?;
                self.core()
                    .update_presence(&d)
                    .await
                    .map_err(NodeError::from)?;
                Ok(())
            }
            .await,
        )
    }

    /// Answers interaction `interactionId` (received by the HTTP endpoint, `ddiscord
    /// interactions`) with `body`, an interaction response object as JSON text
    /// (`{"type": 4, "data": {...}}`), published on `<root>-interaction-reply/<id>` with
    /// guaranteed delivery: resolves once the broker has it. The endpoint answers Discord with it
    /// when it arrives before the endpoint's deadline.
    /// Source: <https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object>.
    ///
    /// Errors: `DDISCORD_INVALID_ID`, `DDISCORD_INVALID_ARGUMENT` (not an object with a numeric
    /// `type`), `DDISCORD_CLOSED`, `DDISCORD_MESH`.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn reply_interaction(&self, interaction_id: String, body: String) -> Settled<()> {
        Settled(
            async {
                self.check_open()?;
                let id = snowflake("interaction_id", &interaction_id)?;
                let response: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                    NodeError::with_source(
                        ErrorKind::InvalidArgument,
                        "the interaction response is not JSON".to_owned(),
                        e,
                    )
                })?;
                self.core()
                    .reply_interaction(id, &response)
                    .await
                    .map_err(NodeError::from)?;
                Ok(())
            }
            .await,
        )
    }

    /// Sends REQUEST_GUILD_MEMBERS (opcode 8) to the shard that owns the guild and returns the
    /// GUILD_MEMBERS_CHUNK events that answer it (matched by nonce) as a subscription that ends
    /// after the last chunk. The subscription is made before the command is sent.
    ///
    /// Errors: `DDISCORD_INVALID_ID`, `DDISCORD_CONFIG` (a request Discord would refuse: over
    /// 100 ids, nonce over 32 bytes), `DDISCORD_CLOSED`, `DDISCORD_MESH`; while iterating,
    /// `DDISCORD_RATE_LIMITED` when Discord refuses the request with RATE_LIMITED (every member
    /// of a guild: once per guild per 30 s), `DDISCORD_TIMEOUT` when a chunk does not come in
    /// time.
    #[napi(ts_return_type = "Promise<Subscription>")]
    pub async fn request_guild_members(
        &self,
        guild_id: String,
        options: Option<MemberRequestOptions>,
    ) -> Settled<Subscription> {
        Settled(
            async {
                self.check_open()?;
                let options = options.unwrap_or_default();
                let guild = snowflake("guild_id", &guild_id)?;
                let mut request = match &options.user_ids {
                    Some(ids) => MemberRequest::users(guild, snowflakes("user_id", ids)?),
                    None => MemberRequest::all(guild),
                };
                if let Some(q) = options.query {
                    request.query = Some(q);
                }
                request.limit = options.limit.unwrap_or(0);
                request.presences = options.presences.unwrap_or(false);
                request.nonce = options.nonce;
                let chunks = self
                    .core()
                    .request_guild_members(&request)
                    .await
                    .map_err(NodeError::from)?;
                Ok(self.wrap(format!("GUILD_MEMBERS_CHUNK of {guild}"), chunks))
            }
            .await,
        )
    }
}
