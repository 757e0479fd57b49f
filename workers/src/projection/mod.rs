//! The projection of dispatches into Redis: [`Planner`] turns a dispatch into writes, and
//! [`Projector`] applies them atomically, pipelined, behind the (shard, session, sequence)
//! guard of `apply.lua`.
//!
//! Consistency:
//! - each dispatch is one `EVALSHA` of `apply.lua`: Redis runs it atomically, so a reader sees
//!   an event entirely or not at all;
//! - the script first compares the dispatch with the shard's `session` and `seq`
//!   (`shard:<s>`): a sequence at or below the last applied one of the same session, or an event
//!   of a replaced session, is skipped, so duplicates and redeliveries never regress state;
//! - READY of a new session bumps the shard's generation, removes the guilds the shard had that
//!   READY no longer lists (READY lists every guild of the shard), and marks the listed ones
//!   `complete=0` while keeping their data readable until their GUILD_CREATE replaces them in one
//!   step. There is no moment at which a live guild is missing.
//!
//! If a script fails half-way (Redis out of memory), Redis keeps the writes made before the
//! failure; the batch is retried whole, which is safe because every write is idempotent.

mod ops;
mod plan;

use ddiscord::Envelope;
use ddiscord::cache::Keys;
use ddiscord::cache::keys::GUILD_SUFFIXES;
use redis::aio::ConnectionLike;

pub use ops::Op;
pub use plan::{Plan, Planner, ProjectionConfig, Reaction, Skip};

const SCRIPT: &str = include_str!("apply.lua");

/// Why a dispatch could not be projected: a [`ProjectionErrorKind`], and the error that caused
/// it.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct ProjectionError {
    kind: ProjectionErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`ProjectionError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProjectionErrorKind {
    /// Redis failed or is unreachable; the batch was not (fully) applied and is safe to retry.
    Redis,
    /// `d` does not have the documented shape of the event: the event is counted and skipped.
    Payload {
        /// Dispatch name.
        event: String,
    },
    /// The lease the batch was written under is no longer current (another member owns the
    /// partition now): nothing of the event was written; stop work on the partition.
    Fenced {
        /// The partition (shard).
        shard: u32,
    },
    /// A value could not be encoded, or a cached value read back is not the documented shape.
    Encode {
        /// Dispatch name.
        event: String,
    },
}

impl ProjectionError {
    /// An error of `kind` without an underlying cause.
    pub(crate) fn new(kind: ProjectionErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// An error of `kind` caused by `source`.
    pub(crate) fn with_source(
        kind: ProjectionErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ProjectionErrorKind {
        &self.kind
    }

    /// The kind's description followed by its cause, as one line (the text of
    /// [`Outcome::Rejected`]).
    fn message(&self) -> String {
        let what = match &self.kind {
            ProjectionErrorKind::Redis => {
                "Redis write failed (the batch is retried; check DDISCORD_REDIS_URL and Redis)"
                    .to_owned()
            }
            ProjectionErrorKind::Payload { event } => {
                format!("{event} payload does not have Discord's documented shape, skipped")
            }
            ProjectionErrorKind::Fenced { shard } => format!(
                "the lease on shard {shard} is no longer current; its events belong to another member now"
            ),
            ProjectionErrorKind::Encode { event } => {
                format!("{event}: encoding the cache value failed")
            }
        };
        match &self.source {
            Some(source) => format!("{what}: {source}"),
            None => what,
        }
    }
}

impl From<redis::RedisError> for ProjectionError {
    fn from(source: redis::RedisError) -> Self {
        Self::with_source(ProjectionErrorKind::Redis, source)
    }
}

/// What happened to one dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its writes are in Redis (`writes` single-key writes, for throughput figures).
    Applied {
        /// Single-key writes (hash fields and string keys).
        writes: usize,
    },
    /// Already applied (same or older sequence of the session), or of a replaced session.
    Duplicate,
    /// Not applied: an earlier sequence of its session has not been applied yet (a gap). With
    /// [`Gaps::Hold`] the caller keeps the event and offers it again once the gap is filled.
    Gap,
    /// Not projected.
    Skipped(Skip),
    /// Malformed for its event name: counted and skipped, never applied.
    Rejected(String),
}

/// What to do with a dispatch whose session has a gap before it (an earlier sequence not yet
/// applied). Gateway sequences are contiguous within a session, so a gap means an event is
/// missing or late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gaps {
    /// Do not apply it: its outcome is [`Outcome::Gap`] (the state worker holds it).
    Hold,
    /// Apply it anyway (a capture that started mid-session, or a gap that never filled).
    Accept,
}

/// Applies dispatches to the cache.
pub struct Projector<C> {
    conn: C,
    planner: Planner,
    script: redis::Script,
}

struct Prepared {
    index: usize,
    /// The outcome when the script applies it.
    applied: Outcome,
    args: Vec<String>,
    keys: Vec<String>,
}

/// The lease a batch is written under: the writes apply only while it is current
/// ([`ddiscord::coord::Fence`]).
#[derive(Debug, Clone)]
pub struct Fencing {
    /// [`ddiscord::coord::Fence::key`] of the partition.
    pub key: String,
    /// The lease's fencing token.
    pub token: u64,
}

impl<C: ConnectionLike + Send> Projector<C> {
    /// A projector writing through `conn` under `keys`.
    pub fn new(conn: C, keys: Keys, config: ProjectionConfig) -> Self {
        let suffixes: Vec<String> = GUILD_SUFFIXES.iter().map(|s| format!("'{s}'")).collect();
        let code = format!(
            "local GUILD_SUFFIXES = {{{}}}\n{SCRIPT}",
            suffixes.join(", ")
        );
        Self {
            conn,
            planner: Planner::new(keys, config),
            script: redis::Script::new(&code),
        }
    }

    /// The planner (key layout and configuration).
    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    /// Applies one dispatch.
    ///
    /// # Errors
    /// [`ProjectionErrorKind::Redis`]: nothing or part of it was applied; retry.
    pub async fn apply(&mut self, envelope: &Envelope) -> Result<Outcome, ProjectionError> {
        let mut out = self.apply_batch(std::slice::from_ref(envelope)).await?;
        Ok(out.pop().unwrap_or(Outcome::Duplicate))
    }

    /// Applies dispatches in order, pipelined: one round trip for the batch (plus one per
    /// reaction while messages are cached, which reads the cached message first). Events of one shard must be given in
    /// their order; gaps in a session's sequence are accepted ([`Gaps::Accept`]), as for a
    /// capture that started mid-session.
    ///
    /// # Errors
    /// [`ProjectionErrorKind::Redis`]: a prefix of the batch may be applied; retrying the whole
    /// batch is safe.
    pub async fn apply_batch(
        &mut self,
        envelopes: &[Envelope],
    ) -> Result<Vec<Outcome>, ProjectionError> {
        self.apply_fenced(envelopes, None, Gaps::Accept).await
    }

    /// As [`Projector::apply_batch`], each write applied only while `fence` is current, and
    /// an event after a gap in its session's sequence held or applied as `gaps` says.
    ///
    /// Every event with a sequence passes the (session, sequence) guard, the ones that write
    /// nothing (skipped, rejected) included, so that the guard sees each session's sequence
    /// without holes.
    ///
    /// # Errors
    /// [`ProjectionErrorKind::Fenced`] when the lease is no longer current (nothing more of the
    /// batch is written), [`ProjectionErrorKind::Redis`] as for `apply_batch`.
    pub async fn apply_fenced(
        &mut self,
        envelopes: &[Envelope],
        fence: Option<&Fencing>,
        gaps: Gaps,
    ) -> Result<Vec<Outcome>, ProjectionError> {
        let mut outcomes: Vec<Outcome> = vec![Outcome::Duplicate; envelopes.len()];
        let mut pending: Vec<Prepared> = Vec::new();
        for (index, envelope) in envelopes.iter().enumerate() {
            // Events that write nothing still pass the sequence guard.
            let guard_only = |outcome: Outcome, pending: &mut Vec<Prepared>, this: &Self| {
                if envelope.sequence().is_some() {
                    let mut p = this.prepare(index, envelope, &[], fence, gaps);
                    p.applied = outcome;
                    pending.push(p);
                    None
                } else {
                    Some(outcome)
                }
            };
            let ops = match self.planner.plan(envelope) {
                Ok(Plan::Ops(ops)) => ops,
                Ok(Plan::Reaction { mut ops, reaction }) => {
                    self.flush(&mut pending, &mut outcomes).await?;
                    let keys = self.planner.keys();
                    let (message, me): (Option<String>, Option<String>) = redis::pipe()
                        .get(keys.message(reaction.channel, reaction.message))
                        .get(keys.current_user())
                        .query_async(&mut self.conn)
                        .await?;
                    match self
                        .planner
                        .reaction(&reaction, message.as_deref(), me.as_deref())
                    {
                        Ok(more) => {
                            ops.extend(more);
                            ops
                        }
                        Err(e) => {
                            let e = ProjectionError::with_source(
                                ProjectionErrorKind::Encode {
                                    event: envelope.event().unwrap_or_default().to_owned(),
                                },
                                e,
                            );
                            if let Some(o) =
                                guard_only(Outcome::Rejected(e.to_string()), &mut pending, self)
                            {
                                outcomes[index] = o;
                            }
                            continue;
                        }
                    }
                }
                Ok(Plan::Skip(skip)) => {
                    if let Some(o) = guard_only(Outcome::Skipped(skip), &mut pending, self) {
                        outcomes[index] = o;
                    }
                    continue;
                }
                Err(e) => {
                    if let Some(o) =
                        guard_only(Outcome::Rejected(e.to_string()), &mut pending, self)
                    {
                        outcomes[index] = o;
                    }
                    continue;
                }
            };
            pending.push(self.prepare(index, envelope, &ops, fence, gaps));
        }
        self.flush(&mut pending, &mut outcomes).await?;
        Ok(outcomes)
    }

    fn prepare(
        &self,
        index: usize,
        envelope: &Envelope,
        ops: &[Op],
        fence: Option<&Fencing>,
        gaps: Gaps,
    ) -> Prepared {
        let keys = self.planner.keys();
        let ready = envelope.event() == Some("READY");
        let session = if ready {
            envelope
                .payload::<ReadySession>()
                .ok()
                .map(|r| r.session_id)
                .or_else(|| envelope.session().map(str::to_owned))
        } else {
            envelope.session().map(str::to_owned)
        };
        let accept = gaps == Gaps::Accept;
        let (kind, seq) = match envelope.sequence() {
            Some(s) if ready => (if accept { "R!" } else { "R" }, s),
            Some(s) => (if accept { "E!" } else { "E" }, s),
            None => ("N", 0),
        };
        let mut args = vec![
            session.unwrap_or_default(),
            seq.to_string(),
            kind.to_owned(),
            keys.prefix().to_owned(),
            envelope.shard().to_string(),
            fence.map(|f| f.token.to_string()).unwrap_or_default(),
        ];
        let mut writes = 0;
        for op in ops {
            op.encode(&mut args);
            writes += op.writes();
        }
        Prepared {
            index,
            applied: Outcome::Applied { writes },
            args,
            keys: [
                Some(keys.shard(envelope.shard())),
                Some(keys.shard_sessions(envelope.shard())),
                fence.map(|f| f.key.clone()),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }
    }

    async fn flush(
        &mut self,
        pending: &mut Vec<Prepared>,
        outcomes: &mut [Outcome],
    ) -> Result<(), ProjectionError> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for p in pending.iter() {
            pipe.cmd("EVALSHA")
                .arg(self.script.get_hash())
                .arg(p.keys.len())
                .arg(&p.keys)
                .arg(&p.args);
        }
        let mut result = pipe.query_async::<Vec<i64>>(&mut self.conn).await;
        if let Err(e) = &result
            && e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
        {
            // Redis restarted or was flushed: load the script and run the batch again (events
            // already applied are skipped by the guard).
            self.script.load_async(&mut self.conn).await?;
            result = pipe.query_async(&mut self.conn).await;
        }
        let results = match result {
            Ok(r) => r,
            Err(e) if ddiscord::coord::Fence::is_fenced_error(&e) => {
                let shard = pending
                    .first()
                    .and_then(|p| p.args.get(4))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_default();
                pending.clear();
                return Err(ProjectionError::new(ProjectionErrorKind::Fenced { shard }));
            }
            Err(e) => return Err(e.into()),
        };
        for (p, code) in pending.drain(..).zip(results) {
            outcomes[p.index] = match code {
                1 => p.applied,
                2 => Outcome::Gap,
                _ => Outcome::Duplicate,
            };
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct ReadySession {
    session_id: String,
}
