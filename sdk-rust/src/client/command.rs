//! Gateway commands: published on `<root>-cmd/{shard}/{COMMAND}` with the command's `d` object
//! as body, for the ingest process that owns the shard to send.
//!
//! Payload shapes: <https://discord.com/developers/docs/events/gateway-events#send-events>.

use std::collections::BTreeSet;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};

use super::error::{ClientError, ClientErrorKind};
use super::event::Event;
use super::stream::Subscription;

/// A REQUEST_GUILD_MEMBERS command (opcode 8).
///
/// Either `query` (a username prefix, `""` for everyone, with `limit`, 0 = no limit) or
/// `user_ids` (at most 100) selects the members. Requesting everyone needs the
/// GUILD_MEMBERS intent; `presences` needs GUILD_PRESENCES.
/// Source: <https://discord.com/developers/docs/events/gateway-events#request-guild-members>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRequest {
    /// The guild whose members are requested.
    pub guild_id: u64,
    /// Username prefix; `Some("")` with `limit` 0 requests every member.
    pub query: Option<String>,
    /// Most members to send (0 = no limit, only with an empty query).
    pub limit: u32,
    /// Whether the chunks carry the members' presences.
    pub presences: bool,
    /// Specific members to request (instead of `query`).
    pub user_ids: Vec<u64>,
    /// Nonce echoed in every chunk (at most 32 bytes); generated when `None`.
    pub nonce: Option<String>,
}

impl MemberRequest {
    /// Every member of `guild_id` (`query: ""`, `limit: 0`).
    pub fn all(guild_id: u64) -> Self {
        Self {
            guild_id,
            query: Some(String::new()),
            limit: 0,
            presences: false,
            user_ids: Vec::new(),
            nonce: None,
        }
    }

    /// The members with these ids.
    pub fn users(guild_id: u64, user_ids: impl IntoIterator<Item = u64>) -> Self {
        Self {
            query: None,
            user_ids: user_ids.into_iter().collect(),
            ..Self::all(guild_id)
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ClientError> {
        if self.guild_id == 0 {
            return Err(ClientError::invalid_id("guild_id", self.guild_id));
        }
        if let Some(id) = self.user_ids.iter().find(|id| **id == 0) {
            return Err(ClientError::invalid_id("user_id", id));
        }
        let bad = |message: String| {
            Err(ClientError::new(ClientErrorKind::Config {
                message: format!("REQUEST_GUILD_MEMBERS: {message}"),
            }))
        };
        if self.user_ids.len() > 100 {
            return bad(format!(
                "at most 100 user ids per request, got {}",
                self.user_ids.len()
            ));
        }
        if self.query.is_none() && self.user_ids.is_empty() {
            return bad("give a query (\"\" for everyone) or user ids".into());
        }
        if self.nonce.as_ref().is_some_and(|n| n.len() > 32) {
            return bad("the nonce is longer than Discord's 32 bytes".into());
        }
        Ok(())
    }

    /// The command's `d` object.
    pub(crate) fn body(&self, nonce: &str) -> serde_json::Value {
        let mut d = serde_json::json!({
            "guild_id": self.guild_id.to_string(),
            "limit": self.limit,
            "presences": self.presences,
            "nonce": nonce,
        });
        if let Some(q) = &self.query {
            d["query"] = q.as_str().into();
        }
        if !self.user_ids.is_empty() {
            d["user_ids"] = self
                .user_ids
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .into();
        }
        d
    }
}

/// The body of a VOICE_STATE_UPDATE command (opcode 4): join, move or leave a voice channel.
/// Source: <https://discord.com/developers/docs/events/gateway-events#update-voice-state>.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoiceStateRequest {
    /// The guild.
    #[serde(serialize_with = "as_string")]
    pub guild_id: u64,
    /// The channel to join, `None` to leave.
    #[serde(serialize_with = "opt_as_string")]
    pub channel_id: Option<u64>,
    /// Whether the bot mutes itself.
    pub self_mute: bool,
    /// Whether the bot deafens itself.
    pub self_deaf: bool,
}

fn as_string<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn opt_as_string<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// The fields of a RATE_LIMITED `d` that tell which request it refuses
/// (<https://discord.com/developers/docs/events/gateway-events#rate-limited>).
#[derive(Deserialize)]
struct RateLimitedHead {
    opcode: u64,
    retry_after: f64,
    meta: RateLimitedMeta,
}

#[derive(Deserialize)]
struct RateLimitedMeta {
    #[serde(default)]
    nonce: Option<String>,
}

#[derive(Deserialize)]
struct ChunkHead {
    #[serde(default)]
    nonce: Option<String>,
    chunk_index: u32,
    chunk_count: u32,
}

/// The GUILD_MEMBERS_CHUNK dispatches answering one [`MemberRequest`], matched by nonce.
///
/// Yields each chunk as an [`Event`] (read it with
/// `event.payload::<twilight_model::gateway::payload::incoming::MemberChunk>()` or
/// [`Event::json`]) and ends after the last one (`chunk_index == chunk_count - 1` for every
/// index). Yields [`ClientErrorKind::RateLimited`] and ends when Discord answers the request
/// with a RATE_LIMITED dispatch carrying its nonce (a request for every member of a guild is
/// allowed once per guild per 30 s), and [`ClientErrorKind::Timeout`] and ends when no chunk
/// arrives within the configured `chunk_timeout`.
pub struct MemberChunks {
    nonce: String,
    inner: Subscription,
    /// The shard's RATE_LIMITED dispatches.
    limited: Subscription,
    seen: BTreeSet<u32>,
    count: Option<u32>,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    done: bool,
}

impl std::fmt::Debug for MemberChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberChunks")
            .field("nonce", &self.nonce)
            .field("received", &self.seen.len())
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl MemberChunks {
    pub(crate) fn new(
        nonce: String,
        inner: Subscription,
        limited: Subscription,
        timeout: Duration,
    ) -> Self {
        Self {
            nonce,
            inner,
            limited,
            seen: BTreeSet::new(),
            count: None,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            done: false,
        }
    }

    /// The nonce the chunks carry.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The error for a RATE_LIMITED dispatch refusing this request, if `event` is one.
    fn refusal(&self, event: &Event) -> Option<ClientError> {
        let head = serde_json::from_slice::<RateLimitedHead>(event.d_bytes()).ok()?;
        if head.opcode != 8 || head.meta.nonce.as_deref() != Some(self.nonce.as_str()) {
            return None;
        }
        // Seconds as a float; whole ms, rounded up.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let retry_after_ms = (head.retry_after.max(0.0) * 1000.0).ceil() as u64;
        Some(ClientError::new(ClientErrorKind::RateLimited {
            message: format!(
                "Discord rate-limited REQUEST_GUILD_MEMBERS with nonce {}: retry after {retry_after_ms} ms",
                self.nonce
            ),
            retry_after_ms: Some(retry_after_ms),
        }))
    }
}

impl Stream for MemberChunks {
    type Item = Result<Event, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        while let Poll::Ready(Some(item)) = this.limited.poll_next_unpin(cx) {
            if let Ok(event) = item
                && let Some(e) = this.refusal(&event)
            {
                this.done = true;
                return Poll::Ready(Some(Err(e)));
            }
        }
        loop {
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(event))) => {
                    let Ok(head) = serde_json::from_slice::<ChunkHead>(event.d_bytes()) else {
                        continue;
                    };
                    if head.nonce.as_deref() != Some(this.nonce.as_str()) {
                        continue;
                    }
                    this.seen.insert(head.chunk_index);
                    this.count = Some(head.chunk_count);
                    if this.seen.len() >= head.chunk_count as usize {
                        this.done = true;
                    }
                    let timeout = this.timeout;
                    this.deadline
                        .as_mut()
                        .reset(tokio::time::Instant::now() + timeout);
                    return Poll::Ready(Some(Ok(event)));
                }
                Poll::Pending => {
                    std::task::ready!(this.deadline.as_mut().poll(cx));
                    this.done = true;
                    let got = this.seen.len();
                    let what = match this.count {
                        Some(n) => format!(
                            "GUILD_MEMBERS_CHUNK {} of {n} with nonce {}",
                            got + 1,
                            this.nonce
                        ),
                        None => format!(
                            "the first GUILD_MEMBERS_CHUNK with nonce {} (is ingest running the shard, and does the bot have the GUILD_MEMBERS intent?)",
                            this.nonce
                        ),
                    };
                    return Poll::Ready(Some(Err(ClientError::new(ClientErrorKind::Timeout {
                        what,
                    }))));
                }
            }
        }
    }
}
