//! One gateway websocket connection: HELLO, heartbeats, IDENTIFY, RESUME, dispatch writing and
//! control commands, closing with Discord's close codes
//! (<https://discord.com/developers/docs/events/gateway>).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::close::CloseCode;
use super::compression::{Compression, Compressor};
use super::identify::{self, Identify, Resume};
use super::session::{ResumeCheck, Session};
use super::{ConnParams, MAX_CLIENT_PAYLOAD};
use crate::record::SentDispatch;
use crate::state::{ConnCommand, Shared, lock, push_to_session};

/// Dispatches written per wake-up before the connection looks at its inbox again.
const BATCH: usize = 256;

/// What ended the connection's loop.
enum End {
    /// Close with a code.
    Close(CloseCode, Option<&'static str>),
    /// The peer sent a close frame: answer it, as the gateway does, so the client's close
    /// completes at once.
    PeerClosed,
    /// The peer went away or an I/O error happened.
    Gone,
    /// Drop TCP without a close frame.
    Drop,
}

pub(crate) struct Connection {
    id: u64,
    shared: Arc<Shared>,
    sink: SplitSink<WebSocket, Message>,
    comp: Compressor,
    session: Option<Arc<Session>>,
    /// Last sequence written to this connection.
    cursor: u64,
    /// Highest sequence that counts as a replay (RESUME).
    replay_upto: u64,
    zombie: bool,
    identified: bool,
    /// Real times of the commands received in the last 60 s.
    commands: VecDeque<Instant>,
    heartbeat_deadline: Instant,
    ctl_tx: mpsc::UnboundedSender<ConnCommand>,
    registered_shard: Option<u32>,
    compression: Compression,
}

impl Connection {
    pub(crate) async fn run(socket: WebSocket, shared: Arc<Shared>, params: ConnParams) {
        let (sink, stream) = socket.split();
        let comp = match Compressor::new(params.compression) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "could not create the compression context"
                );
                return;
            }
        };
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let hb = Duration::from_millis(shared.cfg.heartbeat_interval_ms);
        let mut conn = Self {
            id: shared.next_id(),
            shared,
            sink,
            comp,
            session: None,
            cursor: 0,
            replay_upto: 0,
            zombie: false,
            identified: false,
            commands: VecDeque::new(),
            heartbeat_deadline: Instant::now() + hb * 2 + Duration::from_secs(1),
            ctl_tx,
            registered_shard: None,
            compression: params.compression,
        };
        let end = if !params.version_ok {
            End::Close(
                CloseCode::InvalidApiVersion,
                Some("the simulator speaks API v10"),
            )
        } else if !params.encoding_ok {
            End::Close(
                CloseCode::DecodeError,
                Some("the simulator speaks encoding=json"),
            )
        } else {
            conn.main(stream, ctl_rx).await
        };
        match end {
            End::Close(code, why) => {
                let reason = why.unwrap_or_else(|| code.reason());
                let frame = CloseFrame {
                    code: code.code(),
                    reason: Utf8Bytes::from(reason),
                };
                let _ = conn.sink.send(Message::Close(Some(frame))).await;
                let _ = conn.sink.flush().await;
            }
            End::PeerClosed => {
                // The websocket layer queued the answering close frame; closing the sink sends it.
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.sink.close()).await;
            }
            End::Gone | End::Drop => {}
        }
        conn.cleanup();
    }

    fn cleanup(&mut self) {
        if let Some(shard) = self.registered_shard.take()
            && let Some(slot) = self.shared.slot(shard)
        {
            lock(&slot.conns).remove(&self.id);
        }
        if let Some(s) = self.session.take() {
            s.detach(self.id, self.shared.clock.now_ms());
        }
    }

    async fn main(
        &mut self,
        mut stream: SplitStream<WebSocket>,
        mut ctl_rx: mpsc::UnboundedReceiver<ConnCommand>,
    ) -> End {
        let hello = json!({"op": 10, "s": null, "t": null,
            "d": {"heartbeat_interval": self.shared.cfg.heartbeat_interval_ms}});
        if self.send_text(&hello.to_string()).await.is_err() {
            return End::Gone;
        }
        loop {
            let session = self.session.clone();
            let writable = session
                .as_ref()
                .is_some_and(|s| !self.zombie && s.is_attached_to(self.id));
            tokio::select! {
                msg = stream.next() => {
                    let end = match msg {
                        None => Some(End::Gone),
                        // Malformed websocket frames (bad UTF-8, over 1 MB, protocol errors):
                        // try to say so with 4002; a dead socket just ends.
                        Some(Err(_)) => Some(End::Close(CloseCode::DecodeError, Some("malformed websocket frame"))),
                        Some(Ok(Message::Close(_))) => Some(End::PeerClosed),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                        Some(Ok(Message::Binary(_))) => Some(End::Close(CloseCode::DecodeError, Some("binary frames are not JSON"))),
                        Some(Ok(Message::Text(t))) => self.on_text(t.as_str()).await,
                    };
                    if let Some(end) = end {
                        return end;
                    }
                }
                cmd = ctl_rx.recv() => {
                    if let Some(cmd) = cmd
                        && let Some(end) = self.on_command(cmd).await
                    {
                        return end;
                    }
                }
                () = async {
                    match &session {
                        Some(s) => s.notify.notified().await,
                        None => std::future::pending().await,
                    }
                }, if writable => {
                    if let Some(end) = self.flush().await {
                        return end;
                    }
                }
                () = tokio::time::sleep_until(self.heartbeat_deadline) => {
                    return End::Close(CloseCode::SessionTimedOut, None);
                }
            }
        }
    }

    async fn send_text(&mut self, text: &str) -> Result<(), ()> {
        self.write_text(Utf8Bytes::from(text), true).await
    }

    /// Writes one payload (compressed if the connection asked for it); `flush` sends it now,
    /// otherwise it waits in the sink until the next flush (batches of dispatches).
    async fn write_text(&mut self, text: Utf8Bytes, flush: bool) -> Result<(), ()> {
        let msg = match self.comp.compress(text.as_str().as_bytes()) {
            Ok(Some(bytes)) => Message::Binary(bytes.into()),
            Ok(None) => Message::Text(text),
            Err(e) => {
                tracing::warn!(error = &e as &dyn std::error::Error, "compression failed");
                return Err(());
            }
        };
        let len = match &msg {
            Message::Binary(b) => b.len(),
            Message::Text(t) => t.len(),
            _ => 0,
        };
        self.shared
            .bytes_sent
            .fetch_add(len as u64, Ordering::Relaxed);
        if flush {
            self.sink.send(msg).await.map_err(|_| ())
        } else {
            self.sink.feed(msg).await.map_err(|_| ())
        }
    }

    /// Writes buffered dispatches past the cursor.
    async fn flush(&mut self) -> Option<End> {
        let session = self.session.clone()?;
        if !session.is_valid() {
            return None;
        }
        if !session.is_attached_to(self.id) {
            // Another connection resumed this session; pass the wake-up on.
            session.notify.notify_one();
            return None;
        }
        let frames = match session.frames_after(self.cursor, BATCH) {
            Ok(f) => f,
            Err(_) => {
                return Some(End::Close(
                    CloseCode::UnknownError,
                    Some("the client fell behind the session buffer"),
                ));
            }
        };
        let more = frames.len() == BATCH;
        let keep_frames = self.shared.record.keeps_frames();
        let mut sent = Vec::with_capacity(if self.shared.record.enabled() {
            frames.len()
        } else {
            0
        });
        for f in frames {
            if self.write_text(f.text.clone(), false).await.is_err() {
                self.shared.record.extend_frames(sent);
                return Some(End::Gone);
            }
            self.cursor = f.seq;
            self.shared.events_sent.fetch_add(1, Ordering::Relaxed);
            if self.shared.record.enabled() {
                let frame = keep_frames.then(|| f.text.clone());
                sent.push((
                    SentDispatch {
                        session_id: session.id.to_string(),
                        shard: session.shard,
                        seq: f.seq,
                        event: f.name.to_string(),
                        guild_id: f.guild_id,
                        connection: self.id,
                        replayed: f.seq <= self.replay_upto,
                    },
                    frame,
                ));
            }
        }
        self.shared.record.extend_frames(sent);
        if self.sink.flush().await.is_err() {
            return Some(End::Gone);
        }
        session.sent(self.cursor);
        if more {
            session.notify.notify_one();
        }
        None
    }

    fn log_start(&self, session: &Session, started_by: &'static str) {
        lock(&self.shared.connections).push(crate::record::ConnectionInfo {
            connection: self.id,
            shard: session.shard,
            session_id: session.id.to_string(),
            started_by,
            compression: self.compression,
        });
    }

    fn register(&mut self, shard: u32, session_id: &Arc<str>) {
        if let Some(slot) = self.shared.slot(shard) {
            lock(&slot.conns).insert(self.id, (self.ctl_tx.clone(), Arc::clone(session_id)));
            self.registered_shard = Some(shard);
        }
    }

    async fn on_command(&mut self, cmd: ConnCommand) -> Option<End> {
        match cmd {
            ConnCommand::Drop => return Some(End::Drop),
            ConnCommand::Zombie => self.zombie = true,
            ConnCommand::Reconnect => {
                if self
                    .send_text(r#"{"op":7,"s":null,"t":null,"d":null}"#)
                    .await
                    .is_err()
                {
                    return Some(End::Gone);
                }
            }
            ConnCommand::RequestHeartbeat => {
                if self
                    .send_text(r#"{"op":1,"s":null,"t":null,"d":null}"#)
                    .await
                    .is_err()
                {
                    return Some(End::Gone);
                }
            }
            ConnCommand::Invalidate { resumable } => {
                if let Some(s) = self.session.take() {
                    if resumable {
                        s.detach(self.id, self.shared.clock.now_ms());
                    } else {
                        self.shared.end_session(&s);
                    }
                }
                self.identified = false;
                // The connection no longer serves a session (shard commands still reach it).
                if let Some(shard) = self.registered_shard {
                    self.register(shard, &Arc::from(""));
                }
                let text = format!(r#"{{"op":9,"s":null,"t":null,"d":{resumable}}}"#);
                if self.send_text(&text).await.is_err() {
                    return Some(End::Gone);
                }
            }
        }
        None
    }

    /// Counts a command; true if more than `commands_per_minute` arrived in the last 60 s of
    /// real time (real, not simulated, so long tests on a manual clock are not closed by their
    /// own heartbeats).
    fn rate_limited(&mut self) -> bool {
        let now = Instant::now();
        while self
            .commands
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            self.commands.pop_front();
        }
        self.commands.push_back(now);
        self.commands.len() > self.shared.cfg.commands_per_minute as usize
    }

    async fn on_text(&mut self, text: &str) -> Option<End> {
        if text.len() > MAX_CLIENT_PAYLOAD {
            return Some(End::Close(
                CloseCode::DecodeError,
                Some("payload larger than 4096 bytes"),
            ));
        }
        if self.rate_limited() {
            return Some(End::Close(CloseCode::RateLimited, None));
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return Some(End::Close(CloseCode::DecodeError, None));
        };
        let Some(op) = v.get("op").and_then(Value::as_u64) else {
            return Some(End::Close(
                CloseCode::DecodeError,
                Some("payload has no numeric op"),
            ));
        };
        let d = v.get("d").cloned().unwrap_or(Value::Null);
        match op {
            1 => {
                let hb = Duration::from_millis(self.shared.cfg.heartbeat_interval_ms);
                self.heartbeat_deadline = Instant::now() + hb * 2 + Duration::from_secs(1);
                if !self.zombie
                    && self
                        .send_text(r#"{"op":11,"s":null,"t":null,"d":null}"#)
                        .await
                        .is_err()
                {
                    return Some(End::Gone);
                }
                None
            }
            2 => self.on_identify(d).await,
            6 => self.on_resume(d).await,
            3 | 4 | 8 | 31 if !self.identified => {
                Some(End::Close(CloseCode::NotAuthenticated, None))
            }
            3 | 4 | 8 => self.on_gateway_command(op, &d),
            31 => None,
            _ => Some(End::Close(CloseCode::UnknownOpcode, None)),
        }
    }

    /// Opcodes 3, 4 and 8: the dispatches that answer them go to this connection's session
    /// ([`super::commands`]), filtered by its intents as every dispatch is.
    fn on_gateway_command(&mut self, op: u64, d: &Value) -> Option<End> {
        let session = self.session.clone()?;
        let now_ms = self.shared.clock.now_ms();
        let answer = {
            let mut world = lock(&self.shared.world);
            let mut limit = lock(&self.shared.member_requests);
            super::commands::answer(
                &mut world,
                &mut limit,
                op,
                d,
                &session,
                self.shared.cfg.shards,
                now_ms,
            )
        };
        match answer {
            Ok(dispatches) => {
                for (name, guild, data) in dispatches {
                    push_to_session(&session, name, guild, &data);
                }
                None
            }
            Err(super::commands::BadCommand(why)) => {
                Some(End::Close(CloseCode::DecodeError, Some(why)))
            }
        }
    }

    async fn invalid_session(&mut self) -> Option<End> {
        if self
            .send_text(r#"{"op":9,"s":null,"t":null,"d":false}"#)
            .await
            .is_err()
        {
            return Some(End::Gone);
        }
        None
    }

    async fn on_identify(&mut self, d: Value) -> Option<End> {
        if self.identified {
            return Some(End::Close(CloseCode::AlreadyAuthenticated, None));
        }
        let Ok(id) = serde_json::from_value::<Identify>(d) else {
            return Some(End::Close(
                CloseCode::DecodeError,
                Some("invalid IDENTIFY payload"),
            ));
        };
        let guild_total = lock(&self.shared.world).guilds.len();
        let shard = match identify::check(&id, &self.shared.cfg, guild_total) {
            Ok(s) => s,
            Err(code) => return Some(End::Close(code, None)),
        };
        let now = self.shared.clock.now_ms();
        let started = lock(&self.shared.limits).try_start(shard[0], now);
        if let Err(why) = started {
            tracing::info!(shard = shard[0], ?why, "IDENTIFY refused with op 9");
            self.shared.counts(shard[0], |c| c.refused_identifies += 1);
            return self.invalid_session().await;
        }
        let large_threshold = id
            .large_threshold
            .unwrap_or(identify::DEFAULT_LARGE_THRESHOLD)
            .clamp(
                identify::DEFAULT_LARGE_THRESHOLD,
                identify::MAX_LARGE_THRESHOLD,
            );
        let session = self.shared.start_session(
            shard,
            id.intents,
            usize::try_from(large_threshold).unwrap_or(usize::MAX),
        );
        session.attach(self.id);
        self.log_start(&session, "IDENTIFY");
        self.identified = true;
        self.cursor = 0;
        self.replay_upto = 0;
        self.register(shard[0], &session.id);
        self.session = Some(session);
        self.shared.counts(shard[0], |c| {
            c.identifies += 1;
            c.connections += 1;
            c.identify_times_ms.push(now);
        });
        None
    }

    async fn on_resume(&mut self, d: Value) -> Option<End> {
        if self.identified {
            return Some(End::Close(CloseCode::AlreadyAuthenticated, None));
        }
        let Ok(r) = serde_json::from_value::<Resume>(d) else {
            return Some(End::Close(
                CloseCode::DecodeError,
                Some("invalid RESUME payload"),
            ));
        };
        if !identify::token_ok(&r.token, &self.shared.cfg.token) {
            return Some(End::Close(CloseCode::AuthenticationFailed, None));
        }
        let session = lock(&self.shared.sessions)
            .get(r.session_id.as_str())
            .cloned();
        let Some(session) = session else {
            return self.invalid_session().await;
        };
        let seq = r.seq.unwrap_or(0);
        let now = self.shared.clock.now_ms();
        match session.check_resume(seq, now, self.shared.cfg.resume_window_ms) {
            ResumeCheck::Ok => {}
            ResumeCheck::BadSeq => return Some(End::Close(CloseCode::InvalidSeq, None)),
            ResumeCheck::Invalid => {
                self.shared
                    .counts(session.shard, |c| c.refused_resumes += 1);
                self.shared.end_session(&session);
                return self.invalid_session().await;
            }
        }
        session.attach(self.id);
        self.log_start(&session, "RESUME");
        self.identified = true;
        self.cursor = seq;
        self.replay_upto = session.last_seq();
        self.register(session.shard, &session.id);
        self.shared.counts(session.shard, |c| {
            c.resumes += 1;
            c.connections += 1;
        });
        session.push("RESUMED", None, r#"{"_trace":["ddiscord-sim"]}"#);
        self.session = Some(session);
        None
    }
}
