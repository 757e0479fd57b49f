//! Discord's HTTP API for scripts: the calls a bot acts through, with the rate limits shared by
//! every process of the bot through Redis
//! (<https://discord.com/developers/docs/topics/rate-limits>).
//!
//! Requests are twilight-http's ([`twilight_http::routing::Route`] and its request builder:
//! paths, methods, bodies); [`transport`] sends them and returns every answer whole, so the
//! shared limiter sees the `X-RateLimit-*` headers of each and decides when a 429 is retried.
//! Results are Discord's JSON as sent (empty for `204 No Content`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = ddiscord::Client::from_env().await?;
//! let rest = client.rest().await?;
//! let message = rest.create_message(1234, &serde_json::json!({"content": "hi"})).await?;
//! # drop(message);
//! # Ok(()) }
//! ```

mod call;
mod error;
mod limiter;
mod route;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;
use twilight_http::request::Request;
use twilight_http::routing::Route;

pub use call::CALLS;
pub use error::{RestError, RestErrorKind};
pub use limiter::LimiterConfig;

use limiter::{Observed, SharedLimiter};
use transport::Transport;

/// Configuration of a [`Rest`] client.
///
/// | field | environment variable | default |
/// |---|---|---|
/// | `token` | `DISCORD_TOKEN` | none: required |
/// | `base_url` | `DDISCORD_REST_URL` | `https://discord.com` (the simulator: `http://127.0.0.1:PORT`) |
/// | `deadline` | `DDISCORD_REST_DEADLINE_MS` | `30000` |
/// | `limits.global_limit` | `DDISCORD_REST_GLOBAL_LIMIT` | `50` |
/// | `limits.invalid_limit` | `DDISCORD_REST_INVALID_LIMIT` | `9000` |
#[derive(Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// The bot token, with or without `Bot `.
    pub token: String,
    /// Where Discord's API is: `https://discord.com`, or the simulator's HTTP URL.
    pub base_url: Option<String>,
    /// How long a call may wait for its turn in the rate limits, and for Discord, before it
    /// fails with [`RestErrorKind::RateLimited`] (or a transport timeout).
    pub deadline: Duration,
    /// The shared limits.
    pub limits: LimiterConfig,
}

impl std::fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestConfig")
            .field("token", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("deadline", &self.deadline)
            .field("limits", &self.limits)
            .finish()
    }
}

impl RestConfig {
    /// A configuration for `token` with the defaults.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            base_url: None,
            deadline: Duration::from_secs(30),
            limits: LimiterConfig::default(),
        }
    }

    /// Reads the variables in the table above; `None` when `DISCORD_TOKEN` is unset.
    ///
    /// # Errors
    /// [`RestErrorKind::InvalidRequest`] for a number that does not parse.
    pub fn from_env() -> Result<Option<Self>, RestError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Self::from_env`], reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`Self::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, RestError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let Some(token) = non_empty("DISCORD_TOKEN") else {
            return Ok(None);
        };
        let mut cfg = Self::new(token.trim());
        cfg.base_url = non_empty("DDISCORD_REST_URL");
        let num = |name: &str| -> Result<Option<u64>, RestError> {
            match non_empty(name) {
                Some(v) => v.trim().parse().map(Some).map_err(|_| {
                    RestError::new(RestErrorKind::InvalidRequest {
                        message: format!("{name} must be a whole number, not {v:?}"),
                    })
                }),
                None => Ok(None),
            }
        };
        if let Some(ms) = num("DDISCORD_REST_DEADLINE_MS")? {
            cfg.deadline = Duration::from_millis(ms);
        }
        if let Some(n) = num("DDISCORD_REST_GLOBAL_LIMIT")? {
            cfg.limits.global_limit = u32::try_from(n).unwrap_or(u32::MAX).max(1);
        }
        if let Some(n) = num("DDISCORD_REST_INVALID_LIMIT")? {
            cfg.limits.invalid_limit = u32::try_from(n).unwrap_or(u32::MAX).max(1);
        }
        Ok(Some(cfg))
    }
}

/// First 16 hex digits of the SHA-256 of `text`: names a bot (or a webhook token) in Redis
/// keys without the secret itself.
pub(crate) fn short_hash(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Inner {
    transport: Transport,
    limiter: SharedLimiter,
    deadline: Duration,
}

/// Discord's HTTP API with rate limits shared by every process of the bot. Cheap to clone.
#[derive(Clone)]
pub struct Rest {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest").finish_non_exhaustive()
    }
}

/// Discord's error from an answer with an error status
/// (<https://discord.com/developers/docs/reference#error-messages>).
fn discord_error(status: u16, body: &Bytes) -> RestError {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    RestError::new(RestErrorKind::Discord {
        status,
        code: v["code"].as_u64().unwrap_or(0),
        message: v["message"].as_str().unwrap_or_default().to_owned(),
        body: String::from_utf8_lossy(body).into_owned(),
    })
}

fn build(builder: twilight_http::request::RequestBuilder) -> Result<Request, RestError> {
    builder.build().map_err(|e| {
        RestError::with_source(
            RestErrorKind::InvalidRequest {
                message: "twilight-http could not build the request".into(),
            },
            e,
        )
    })
}

fn json_body(body: &Value) -> Result<Vec<u8>, RestError> {
    if !body.is_object() {
        return Err(RestError::new(RestErrorKind::InvalidRequest {
            message: "the body must be a JSON object".into(),
        }));
    }
    serde_json::to_vec(body).map_err(|e| {
        RestError::with_source(
            RestErrorKind::InvalidRequest {
                message: "the body is not serialisable JSON".into(),
            },
            e,
        )
    })
}

impl Rest {
    /// A client for `config` sharing its limits through `redis` under the key prefix
    /// `key_prefix` (`dd:`).
    ///
    /// # Errors
    /// [`RestErrorKind::InvalidRequest`] for a token that is not a header value or a base URL
    /// that is not `http(s)://`.
    pub fn new(
        config: &RestConfig,
        redis: redis::aio::ConnectionManager,
        key_prefix: &str,
    ) -> Result<Self, RestError> {
        let token = config.token.strip_prefix("Bot ").unwrap_or(&config.token);
        let prefix = ddiscord_model::keyspace::rest::bot_prefix(key_prefix, &short_hash(token));
        Ok(Self {
            inner: Arc::new(Inner {
                transport: Transport::new(config.base_url.as_deref(), token)?,
                limiter: SharedLimiter::new(redis, prefix, config.limits),
                deadline: config.deadline,
            }),
        })
    }

    /// Sends `request` when its turn comes, retrying a 429 after its `retry_after` until the
    /// deadline; returns the body of a successful answer.
    ///
    /// # Errors
    /// [`RestErrorKind::Discord`] for an error status, [`RestErrorKind::RateLimited`] when the
    /// turn would come after the deadline, [`RestErrorKind::InvalidRequestLimit`],
    /// [`RestErrorKind::Transport`], [`RestErrorKind::Redis`].
    pub async fn send(&self, request: Request) -> Result<Bytes, RestError> {
        let deadline = Instant::now() + self.inner.deadline;
        let key = route::route_key(request.method().name(), request.path());
        loop {
            let id = format!("{:016x}", rand::random::<u64>());
            let bucket = self.inner.limiter.acquire(&key, &id, deadline).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            let sent = tokio::time::timeout(left, self.inner.transport.send(&request)).await;
            let answer = match sent {
                Ok(Ok(a)) => a,
                Ok(Err(e)) => {
                    let _ = self
                        .inner
                        .limiter
                        .record(&key, &bucket, &id, &Observed::default())
                        .await;
                    return Err(e);
                }
                Err(_) => {
                    let _ = self
                        .inner
                        .limiter
                        .record(&key, &bucket, &id, &Observed::default())
                        .await;
                    return Err(RestError::new(RestErrorKind::Transport {
                        action: format!(
                            "waiting for the answer within the deadline ({} ms)",
                            self.inner.deadline.as_millis()
                        ),
                    }));
                }
            };
            let observed = Observed::from_response(answer.status, &answer.headers, &answer.body);
            if let Err(e) = self
                .inner
                .limiter
                .record(&key, &bucket, &id, &observed)
                .await
            {
                // The request was sent and answered: its result stands. The bucket's state
                // catches up with the next answer (or its probe times out).
                tracing::warn!(route = %key.route, error = %e, "could not record a REST answer in the shared rate limits");
            }
            match answer.status {
                200..=299 => return Ok(answer.body),
                429 => {
                    tracing::debug!(route = %key.route, retry_after_ms = observed.retry_after_ms, "429; waiting for the next turn");
                }
                status => return Err(discord_error(status, &answer.body)),
            }
        }
    }

    async fn route(&self, route: &Route<'_>) -> Result<Bytes, RestError> {
        self.send(Request::from_route(route)).await
    }

    async fn route_with(&self, route: &Route<'_>, body: &Value) -> Result<Bytes, RestError> {
        let request = build(Request::builder(route).body(json_body(body)?))?;
        self.send(request).await
    }

    /// [Create Message](https://discord.com/developers/docs/resources/message#create-message)
    /// in `channel_id` with `body` (`{"content": ...}`, embeds, ...); returns the message.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn create_message(&self, channel_id: u64, body: &Value) -> Result<Bytes, RestError> {
        self.route_with(&Route::CreateMessage { channel_id }, body)
            .await
    }

    /// [Get Channel Message](https://discord.com/developers/docs/resources/message#get-channel-message).
    ///
    /// # Errors
    /// As [`Self::send`]; 404 10008 for an unknown message.
    pub async fn get_message(&self, channel_id: u64, message_id: u64) -> Result<Bytes, RestError> {
        self.route(&Route::GetMessage {
            channel_id,
            message_id,
        })
        .await
    }

    /// [Edit Message](https://discord.com/developers/docs/resources/message#edit-message) with
    /// `body`; returns the message.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn edit_message(
        &self,
        channel_id: u64,
        message_id: u64,
        body: &Value,
    ) -> Result<Bytes, RestError> {
        self.route_with(
            &Route::UpdateMessage {
                channel_id,
                message_id,
            },
            body,
        )
        .await
    }

    /// [Delete Message](https://discord.com/developers/docs/resources/message#delete-message).
    ///
    /// # Errors
    /// As [`Self::send`]; 404 10008 for an unknown message.
    pub async fn delete_message(
        &self,
        channel_id: u64,
        message_id: u64,
    ) -> Result<Bytes, RestError> {
        self.route(&Route::DeleteMessage {
            channel_id,
            message_id,
        })
        .await
    }

    /// [Bulk Delete Messages](https://discord.com/developers/docs/resources/message#bulk-delete-messages):
    /// 2 to 100 messages.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn delete_messages(
        &self,
        channel_id: u64,
        message_ids: &[u64],
    ) -> Result<Bytes, RestError> {
        let ids: Vec<String> = message_ids.iter().map(u64::to_string).collect();
        self.route_with(
            &Route::DeleteMessages { channel_id },
            &serde_json::json!({ "messages": ids }),
        )
        .await
    }

    /// [Add Guild Member Role](https://discord.com/developers/docs/resources/guild#add-guild-member-role).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn add_member_role(
        &self,
        guild_id: u64,
        user_id: u64,
        role_id: u64,
    ) -> Result<Bytes, RestError> {
        self.route(&Route::AddMemberRole {
            guild_id,
            role_id,
            user_id,
        })
        .await
    }

    /// [Remove Guild Member Role](https://discord.com/developers/docs/resources/guild#remove-guild-member-role).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn remove_member_role(
        &self,
        guild_id: u64,
        user_id: u64,
        role_id: u64,
    ) -> Result<Bytes, RestError> {
        self.route(&Route::RemoveMemberRole {
            guild_id,
            role_id,
            user_id,
        })
        .await
    }

    /// [Modify Guild Member](https://discord.com/developers/docs/resources/guild#modify-guild-member)
    /// with `body` (`nick`, `roles`, `mute`, `deaf`, and `communication_disabled_until` for a
    /// timeout); returns the member.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn modify_member(
        &self,
        guild_id: u64,
        user_id: u64,
        body: &Value,
    ) -> Result<Bytes, RestError> {
        self.route_with(&Route::UpdateMember { guild_id, user_id }, body)
            .await
    }

    /// [Remove Guild Member](https://discord.com/developers/docs/resources/guild#remove-guild-member):
    /// a kick.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn kick_member(&self, guild_id: u64, user_id: u64) -> Result<Bytes, RestError> {
        self.route(&Route::RemoveMember { guild_id, user_id }).await
    }

    /// [Create Guild Ban](https://discord.com/developers/docs/resources/guild#create-guild-ban)
    /// with `body` (`{"delete_message_seconds": ...}` or `{}`).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn ban_member(
        &self,
        guild_id: u64,
        user_id: u64,
        body: &Value,
    ) -> Result<Bytes, RestError> {
        self.route_with(&Route::CreateBan { guild_id, user_id }, body)
            .await
    }

    /// [Create Interaction Response](https://discord.com/developers/docs/interactions/receiving-and-responding#create-interaction-response)
    /// with `body` (`{"type": 4, "data": {...}}`); needs no bot token.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn create_interaction_response(
        &self,
        interaction_id: u64,
        token: &str,
        body: &Value,
    ) -> Result<Bytes, RestError> {
        let route = Route::InteractionCallback {
            interaction_id,
            interaction_token: token,
            with_response: false,
        };
        let request = build(
            Request::builder(&route)
                .body(json_body(body)?)
                .use_authorization_token(false),
        )?;
        self.send(request).await
    }

    /// [Create Followup Message](https://discord.com/developers/docs/interactions/receiving-and-responding#create-followup-message)
    /// of application `application_id` for interaction `token`; returns the message.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn create_followup(
        &self,
        application_id: u64,
        token: &str,
        body: &Value,
    ) -> Result<Bytes, RestError> {
        let route = Route::ExecuteWebhook {
            thread_id: None,
            token,
            wait: Some(true),
            with_components: None,
            webhook_id: application_id,
        };
        let request = build(
            Request::builder(&route)
                .body(json_body(body)?)
                .use_authorization_token(false),
        )?;
        self.send(request).await
    }

    /// [Get Guild](https://discord.com/developers/docs/resources/guild#get-guild).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn get_guild(&self, guild_id: u64) -> Result<Bytes, RestError> {
        self.route(&Route::GetGuild {
            guild_id,
            with_counts: false,
        })
        .await
    }

    /// [Get Guild Member](https://discord.com/developers/docs/resources/guild#get-guild-member).
    ///
    /// # Errors
    /// As [`Self::send`]; 404 10007 for an unknown member.
    pub async fn get_member(&self, guild_id: u64, user_id: u64) -> Result<Bytes, RestError> {
        self.route(&Route::GetMember { guild_id, user_id }).await
    }

    /// [Get Guild Channels](https://discord.com/developers/docs/resources/guild#get-guild-channels).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn get_guild_channels(&self, guild_id: u64) -> Result<Bytes, RestError> {
        self.route(&Route::GetChannels { guild_id }).await
    }

    /// [Get Channel](https://discord.com/developers/docs/resources/channel#get-channel).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn get_channel(&self, channel_id: u64) -> Result<Bytes, RestError> {
        self.route(&Route::GetChannel { channel_id }).await
    }
}
