//! The loop of one leased shard.

use std::sync::Arc;
use std::time::Duration;

use ddiscord::FrameHead;
use ddiscord::cache::Keys;
use ddiscord::coord::LeaseGuard;
use ddiscord::envelope::{EnvelopeMeta, wrap};
use ddiscord::mesh::Message as MeshMessage;
use ddiscord::topic::{TopicPattern, Tree};
use futures::future::BoxFuture;
use futures::stream::{FuturesOrdered, StreamExt};
use serde_json::json;
use tokio::sync::watch;
use twilight_gateway::{CloseFrame, ConfigBuilder, Intents, Message, Session, Shard, ShardId};

use super::ctx::ShardCtx;
use super::lag::{self, CacheGate};
use super::publish::{Done, Outgoing, PublishFailure, PublishFuture, queue};
use crate::command;
use crate::identify::RedisQueue;
use crate::lifecycle::{LifecycleEvent, now_ms};
use crate::metrics::{self, ShardMetrics};
use crate::session::StoredSession;

/// How long a graceful stop waits for the mesh to acknowledge what was read.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a graceful stop waits for the close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest wait between attempts at creating the groups' sessions before the first publish.
const MAX_GROUPS_BACKOFF: Duration = Duration::from_secs(5);

/// How a runner is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Keep running.
    Run,
    /// Drain the window, persist the session, close with 4000 (resumable).
    Graceful,
}

/// Why a runner returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ShardExit {
    /// Stopped as asked; the session is persisted.
    Stopped,
    /// The lease was lost; nothing more was published or written.
    Fenced,
    /// The gateway closed the shard for good (bad token, intents, shard): needs a human.
    Fatal(String),
}

/// Runs `guard`'s shard until asked to stop, the lease is lost or the gateway closes for good.
pub(crate) async fn run_shard(
    ctx: Arc<ShardCtx>,
    guard: LeaseGuard,
    mut stop: watch::Receiver<StopMode>,
) -> ShardExit {
    let lease = guard.lease();
    let id = lease.partition;
    let m = Arc::new(ShardMetrics::new(id));
    let node = ctx.config.node_id.as_str();

    // The stored session, so this shard RESUMEs wherever it ran before.
    let stored = loop {
        match ctx.sessions.load(id).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(
                    shard = id,
                    error = &e as &dyn std::error::Error,
                    "could not read the stored session; retrying in 500 ms"
                );
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return ShardExit::Stopped,
                }
                if !guard.is_valid() {
                    return ShardExit::Fenced;
                }
            }
        }
    };
    // Every registered group's durable session must exist before the first dispatch is
    // published, or the broker would not keep it for them.
    let mut backoff = Duration::from_millis(100);
    loop {
        match ctx.groups.ensure(id, false).await {
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(
                    shard = id,
                    error = &e as &dyn std::error::Error,
                    retry_in_ms = backoff.as_millis() as u64,
                    "could not create the consumer groups' sessions; the shard waits before reading the gateway"
                );
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return ShardExit::Stopped,
                }
                backoff = (backoff * 2).min(MAX_GROUPS_BACKOFF);
                if !guard.is_valid() {
                    return ShardExit::Fenced;
                }
            }
        }
    }
    let mut builder = ConfigBuilder::new(
        ctx.config.token.clone(),
        Intents::from_bits_retain(ctx.config.intents),
    )
    .queue(ctx.queue.clone())
    .large_threshold(ctx.config.large_threshold);
    if let Some(url) = &ctx.config.gateway_url {
        builder = builder.proxy_url(url.clone());
    }
    let resuming = stored.is_some();
    if let Some(s) = &stored {
        builder = builder.session(Session::new(s.sequence, s.session_id.clone()));
        if let Some(url) = &s.resume_url {
            builder = builder.resume_url(url.clone());
        }
    }
    tracing::info!(
        shard = id,
        resuming,
        sequence = stored.as_ref().map(|s| s.sequence),
        "shard connecting"
    );
    ctx.lifecycle.publish(
        id,
        LifecycleEvent::Connecting,
        json!({ "resuming": resuming, "sequence": stored.as_ref().map(|s| s.sequence) }),
    );
    let mut shard = Shard::with_config(ShardId::new(id, ctx.shard_count), builder.build());

    let mut commands = subscribe_commands(&ctx, id).await;

    let window = ctx.config.publish_window;
    let mut inflight: FuturesOrdered<PublishFuture> = FuturesOrdered::new();
    // The dispatch being queued on the mesh: one at a time, so the broker gets them in read
    // order; the shard reads on only once it is queued.
    let mut queuing: Option<BoxFuture<'static, PublishFuture>> = None;
    let mut groups_tick = tokio::time::interval(ctx.config.groups_refresh);
    groups_tick.reset();
    let mut groups_task: Option<tokio::task::JoinHandle<()>> = None;
    let mut session: Option<Arc<str>> = stored.as_ref().map(|s| Arc::from(s.session_id.as_str()));
    let mut acked: Option<(Arc<str>, u64)> = stored
        .as_ref()
        .map(|s| (Arc::from(s.session_id.as_str()), s.sequence));
    let mut saved = acked.clone();
    let mut persist = tokio::time::interval(ctx.config.session_persist);
    let mut check = tokio::time::interval(Duration::from_millis(100));
    let mut full = false;
    let mut gate = ctx
        .config
        .max_cache_lag
        .map(|max| CacheGate::new(Keys::new(ctx.config.key_prefix.clone()).shard(id), max));
    // The sequence of the last dispatch read (of `session`), for the cache-lag gate.
    let mut read_seq = 0u64;

    let exit = loop {
        let can_read = queuing.is_none()
            && inflight.len() < window
            && gate.as_ref().is_none_or(CacheGate::open);
        if inflight.len() >= window && !full {
            full = true;
            m.buffer_full.increment(1);
            tracing::warn!(
                shard = id,
                window,
                "publish window full (mesh slow or down); the shard stops reading until the mesh acknowledges"
            );
        } else if inflight.len() <= window / 2 {
            // Log once per episode: only after the window drained to half.
            full = false;
        }
        tokio::select! {
            biased;
            res = stop.changed() => {
                if res.is_err() || *stop.borrow() == StopMode::Graceful {
                    break None;
                }
            }
            _ = check.tick() => {
                if !guard.is_valid() {
                    break Some(ShardExit::Fenced);
                }
                if let Some(gate) = gate.as_mut() {
                    let mut redis = ctx.redis.clone();
                    let changed = gate.refresh(&mut redis, session.as_deref(), read_seq).await;
                    #[allow(clippy::cast_precision_loss)]
                    m.cache_lag.set(gate.lag() as f64);
                    match changed {
                        Some(true) => {
                            m.cache_paused.increment(1);
                            tracing::info!(shard = id, lag = gate.lag(), "the cache is behind; the shard stops reading until it catches up");
                        }
                        Some(false) if gate.overridden() => tracing::warn!(
                            shard = id,
                            lag = gate.lag(),
                            paused_ms = lag::MAX_PAUSE.as_millis() as u64,
                            "the cache stayed behind (state worker stopped or slow); the shard reads on so that the connection lives"
                        ),
                        _ => {}
                    }
                }
            }
            Some(done) = inflight.next(), if !inflight.is_empty() => {
                match done {
                    Ok(d) => {
                        // Only the current session advances: a late acknowledgement of an
                        // older session's dispatch must not replace the new one.
                        if let (Some(s), Some(seq)) = (d.session, d.seq)
                            && session.as_ref() == Some(&s)
                        {
                            acked = Some((s, seq));
                        }
                    }
                    Err(PublishFailure::Fenced) => break Some(ShardExit::Fenced),
                }
                #[allow(clippy::cast_precision_loss)]
                m.buffer_fill.set(inflight.len() as f64);
                // A new session is persisted as soon as its first dispatch is on the mesh, so
                // a takeover right after an IDENTIFY resumes instead of identifying again.
                let new_session = acked.as_ref().map(|a| &a.0) != saved.as_ref().map(|s| &s.0);
                if new_session {
                    match save(&ctx, &guard, node, shard.resume_url().map(str::to_owned), acked.as_ref(), &m).await {
                        SaveOutcome::Saved => saved = acked.clone(),
                        SaveOutcome::Fenced => break Some(ShardExit::Fenced),
                        SaveOutcome::Failed => {}
                    }
                }
            }
            out = poll_queuing(&mut queuing), if queuing.is_some() => {
                queuing = None;
                inflight.push_back(out);
                #[allow(clippy::cast_precision_loss)]
                m.buffer_fill.set(inflight.len() as f64);
            }
            _ = groups_tick.tick() => {
                // Groups registered while the shard runs get their session from now on.
                if groups_task.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
                    let c = ctx.clone();
                    groups_task = Some(tokio::spawn(async move {
                        if let Err(e) = c.groups.ensure(id, true).await {
                            tracing::warn!(shard = id, error = &e as &dyn std::error::Error, "could not read the group registry or create a session; retrying at the next interval");
                        }
                    }));
                }
            }
            _ = persist.tick() => {
                if acked != saved {
                    match save(&ctx, &guard, node, shard.resume_url().map(str::to_owned), acked.as_ref(), &m).await {
                        SaveOutcome::Saved => saved = acked.clone(),
                        SaveOutcome::Fenced => break Some(ShardExit::Fenced),
                        SaveOutcome::Failed => {}
                    }
                }
            }
            msg = shard.next(), if can_read => {
                match msg {
                    None => {
                        break Some(ShardExit::Fatal("the gateway closed the shard with a fatal close code".to_owned()));
                    }
                    Some(Err(e)) => {
                        m.reconnects.increment(1);
                        tracing::warn!(shard = id, error = &e as &dyn std::error::Error, "gateway receive error; twilight reconnects");
                    }
                    Some(Ok(Message::Close(frame))) => {
                        m.reconnects.increment(1);
                        let (code, reason) = frame
                            .as_ref()
                            .map(|f| (Some(f.code), f.reason.to_string()))
                            .unwrap_or((None, String::new()));
                        tracing::info!(shard = id, ?code, %reason, "gateway connection closed; reconnecting");
                        ctx.lifecycle.publish(id, LifecycleEvent::Disconnected, json!({ "code": code, "reason": reason }));
                    }
                    Some(Ok(Message::Text(text))) => {
                        m.events_in.increment(1);
                        let before = session.clone();
                        let frame = handle_frame(&ctx, &guard, &m, &shard, &mut session, &text);
                        if session != before && let Some(new) = session.clone() {
                            // A new session (READY): persisted at once with sequence 0 ("none
                            // of it on the mesh yet"), so an owner that takes the shard over
                            // before its first dispatch is acknowledged RESUMEs it and gets it
                            // replayed from the start, instead of resuming an older session
                            // (whose replay would skip this one's READY and GUILD_CREATEs).
                            acked = Some((new, 0));
                            match save(&ctx, &guard, node, shard.resume_url().map(str::to_owned), acked.as_ref(), &m).await {
                                SaveOutcome::Saved => saved = acked.clone(),
                                SaveOutcome::Fenced => break Some(ShardExit::Fenced),
                                SaveOutcome::Failed => {}
                            }
                        }
                        if session != before {
                            read_seq = 0;
                        }
                        if let Some(seq) = match &frame {
                            Some(Frame::Skip(done)) => done.seq,
                            Some(Frame::Publish(out)) => out.done.seq,
                            None => None,
                        } {
                            read_seq = seq;
                        }
                        match frame {
                            None => {}
                            Some(Frame::Skip(done)) => {
                                inflight.push_back(Box::pin(futures::future::ready(Ok(done))));
                            }
                            Some(Frame::Publish(out)) => {
                                if !guard.is_valid() {
                                    break Some(ShardExit::Fenced);
                                }
                                queuing = Some(Box::pin(queue(ctx.clone(), guard.clone(), m.clone(), out)));
                            }
                        }
                    }
                }
            }
            Some(cmd) = next_command(&mut commands) => {
                handle_command(&ctx, &shard, id, cmd);
            }
        }
    };

    if let Some(t) = groups_task {
        t.abort();
    }
    match exit {
        Some(ShardExit::Fenced) => {
            // Stop at once: no persistence (it would be fenced anyway), no close frame; the
            // new owner resumes from the last persisted sequence.
            tracing::warn!(
                shard = id,
                "lease lost: shard stopped without publishing further"
            );
            m.fenced.increment(1);
            ShardExit::Fenced
        }
        Some(other) => {
            tracing::error!(shard = id, exit = ?other, "shard stopped");
            other
        }
        None => {
            // Graceful: everything read reaches the mesh, the session is persisted, and the
            // connection closes with 4000 so the session stays resumable.
            let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
                if let Some(q) = queuing.take() {
                    inflight.push_back(q.await);
                }
                while let Some(done) = inflight.next().await {
                    match done {
                        Ok(d) => {
                            if let (Some(s), Some(seq)) = (d.session, d.seq) {
                                acked = Some((s, seq));
                            }
                        }
                        Err(PublishFailure::Fenced) => return false,
                    }
                }
                true
            })
            .await;
            if !matches!(drained, Ok(true)) {
                tracing::warn!(
                    shard = id,
                    left = inflight.len(),
                    "not everything read was acknowledged before the stop; RESUME replays it"
                );
            }
            if acked != saved {
                save(
                    &ctx,
                    &guard,
                    node,
                    shard.resume_url().map(str::to_owned),
                    acked.as_ref(),
                    &m,
                )
                .await;
            }
            shard.close(CloseFrame::RESUME);
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                while let Some(msg) = shard.next().await {
                    if matches!(msg, Ok(Message::Close(_))) {
                        break;
                    }
                }
            })
            .await;
            tracing::info!(
                shard = id,
                sequence = acked.as_ref().map(|a| a.1),
                "shard stopped; session persisted, closed with 4000"
            );
            ShardExit::Stopped
        }
    }
}

enum SaveOutcome {
    Saved,
    Fenced,
    Failed,
}

async fn save(
    ctx: &ShardCtx,
    guard: &LeaseGuard,
    node: &str,
    resume_url: Option<String>,
    acked: Option<&(Arc<str>, u64)>,
    m: &Arc<ShardMetrics>,
) -> SaveOutcome {
    let Some((session_id, sequence)) = acked else {
        return SaveOutcome::Saved;
    };
    let session = StoredSession {
        session_id: session_id.to_string(),
        sequence: *sequence,
        resume_url,
    };
    match ctx.sessions.save(guard.lease(), node, &session).await {
        Ok(()) => {
            m.session_saves.increment(1);
            SaveOutcome::Saved
        }
        Err(e) if e.is_fenced() => {
            m.fenced.increment(1);
            tracing::warn!(
                shard = guard.lease().partition,
                "session write fenced: the lease is no longer ours"
            );
            SaveOutcome::Fenced
        }
        Err(e) => {
            m.session_save_errors.increment(1);
            tracing::warn!(
                shard = guard.lease().partition,
                error = &e as &dyn std::error::Error,
                "session not persisted; retrying at the next interval"
            );
            SaveOutcome::Failed
        }
    }
}

/// What to do with a frame read from the gateway.
enum Frame {
    /// A dispatch that cannot be published (skipped with a log line); it still counts as done.
    Skip(Done),
    /// A dispatch to publish.
    Publish(Outgoing),
}

/// Polls the dispatch being queued; pending forever when there is none.
async fn poll_queuing(queuing: &mut Option<BoxFuture<'static, PublishFuture>>) -> PublishFuture {
    match queuing {
        Some(q) => q.await,
        None => std::future::pending().await,
    }
}

/// Reads the head of a frame and, for a dispatch, returns what to publish.
fn handle_frame(
    ctx: &ShardCtx,
    guard: &LeaseGuard,
    m: &Arc<ShardMetrics>,
    shard: &Shard<RedisQueue>,
    session: &mut Option<Arc<str>>,
    text: &str,
) -> Option<Frame> {
    let id = guard.lease().partition;
    let head = match FrameHead::parse(text.as_bytes()) {
        Ok(h) => h,
        Err(e) => {
            m.malformed.increment(1);
            tracing::warn!(
                shard = id,
                error = &e as &dyn std::error::Error,
                "malformed gateway frame skipped"
            );
            return None;
        }
    };
    if head.op != 0 {
        return None;
    }
    let event = head.t.as_deref().unwrap_or("UNKNOWN");
    // Twilight has processed the frame already, so after READY its session is the new one.
    let current = shard.session().map(Session::id);
    if current != session.as_deref() {
        *session = current.map(Arc::from);
    }
    match event {
        "READY" => {
            m.identifies.increment(1);
            tracing::info!(shard = id, "READY: new session");
            ctx.lifecycle.publish(
                id,
                LifecycleEvent::Identified,
                json!({ "sequence": head.s }),
            );
        }
        "RESUMED" => {
            m.resumes.increment(1);
            tracing::info!(shard = id, "RESUMED");
            ctx.lifecycle
                .publish(id, LifecycleEvent::Resumed, json!({ "sequence": head.s }));
        }
        "GUILD_CREATE" => request_members_if_large(ctx, shard, id, text),
        // Discord refused a command (opcode 8 for every member of a guild: once per guild per
        // 30 s, https://discord.com/developers/docs/events/gateway-events#rate-limited). It is
        // published like any dispatch, under the no-guild level, for the command's sender.
        "RATE_LIMITED" => tracing::warn!(
            shard = id,
            d = head.d.map_or("", |d| d.get()),
            "the gateway rate-limited a command"
        ),
        _ => {}
    }
    let guild = match head.guild_id() {
        Ok(g) => g,
        Err(e) => {
            m.malformed.increment(1);
            tracing::warn!(
                shard = id,
                event,
                error = &e as &dyn std::error::Error,
                "guild id unreadable; published under the no-guild level"
            );
            None
        }
    };
    let done = Done {
        session: session.clone(),
        seq: head.s,
    };
    let topic = match ctx.topics.dispatch(id, guild, event) {
        Ok(t) => t,
        Err(e) => {
            m.malformed.increment(1);
            tracing::error!(
                shard = id,
                error = &e as &dyn std::error::Error,
                "dispatch name cannot be a topic level; dispatch skipped"
            );
            return Some(Frame::Skip(done));
        }
    };
    let meta = EnvelopeMeta {
        shard: id,
        session: session.as_deref(),
        received_ms: now_ms(),
    };
    let payload = match wrap(&meta, text.as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            m.malformed.increment(1);
            tracing::error!(
                shard = id,
                error = &e as &dyn std::error::Error,
                "dispatch could not be wrapped; skipped"
            );
            return Some(Frame::Skip(done));
        }
    };
    Some(Frame::Publish(Outgoing {
        topic,
        payload,
        done,
    }))
}

async fn subscribe_commands(ctx: &ShardCtx, shard: u32) -> Option<ddiscord::mesh::Subscription> {
    let pattern = format!("{}/{shard}/*", ctx.topics.tree_root(Tree::Command));
    let pattern = match TopicPattern::new(pattern) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(
                shard,
                error = &e as &dyn std::error::Error,
                "command pattern invalid; gateway commands disabled"
            );
            return None;
        }
    };
    match ctx.mesh.subscribe(&pattern).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(
                shard,
                error = &e as &dyn std::error::Error,
                "could not subscribe to gateway commands; they are not received on this shard"
            );
            metrics::command_rejected(shard, "subscribe_failed");
            None
        }
    }
}

async fn next_command(sub: &mut Option<ddiscord::mesh::Subscription>) -> Option<MeshMessage> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// The GUILD_CREATE fields [`request_members_if_large`] reads.
#[derive(serde::Deserialize)]
struct GuildCreateHead {
    d: GuildCreateData,
}

#[derive(serde::Deserialize)]
struct GuildCreateData {
    id: String,
    #[serde(default)]
    large: bool,
}

/// A large guild's GUILD_CREATE leaves out its offline members
/// (<https://discord.com/developers/docs/events/gateway-events#guild-create>): ask for all of
/// them (opcode 8 without a nonce, so the state worker marks the guild `members_chunked` after
/// the last chunk). twilight paces commands to Discord's 120 per 60 s; Discord allows one such
/// request per guild per 30 s and answers another with RATE_LIMITED (logged above), which
/// leaves the guild `members_chunked: 0` until a later request.
fn request_members_if_large(ctx: &ShardCtx, shard: &Shard<RedisQueue>, id: u32, text: &str) {
    const GUILD_MEMBERS: u64 = 1 << 1;
    if !ctx.config.request_members || ctx.config.intents & GUILD_MEMBERS == 0 {
        return;
    }
    let Ok(head) = serde_json::from_str::<GuildCreateHead>(text) else {
        return;
    };
    if !head.d.large {
        return;
    }
    let request = json!({"op": 8, "d": {"guild_id": head.d.id, "query": "", "limit": 0}});
    tracing::debug!(shard = id, guild = %head.d.id, "large guild: requesting all its members");
    metrics::command(id, "REQUEST_GUILD_MEMBERS");
    shard.send(request.to_string());
}

fn handle_command(ctx: &ShardCtx, shard: &Shard<RedisQueue>, id: u32, msg: MeshMessage) {
    let name = msg.topic.rsplit('/').next().unwrap_or_default().to_owned();
    match command::validate(&name, &msg.payload, id, ctx.shard_count) {
        Ok(frame) => {
            metrics::command(id, &name);
            tracing::debug!(shard = id, command = %name, "gateway command queued (twilight rate-limits to 120 per 60 s)");
            shard.send(frame);
        }
        Err(rejection) => {
            metrics::command_rejected(id, rejection.code());
            let reason = rejection.to_string();
            tracing::warn!(shard = id, command = %name, %reason, "gateway command rejected");
            ctx.lifecycle.publish(
                id,
                LifecycleEvent::CommandRejected,
                json!({ "command": name, "code": rejection.code(), "reason": reason }),
            );
        }
    }
}
