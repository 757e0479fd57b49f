//! The projection of dispatches into Redis: [`Planner`] turns a dispatch into writes, and
//! [`Projector`] applies them atomically behind the (shard, session, sequence) guard of
//! `apply.lua`.
//!
//! Consistency:
//! - a batch of a shard's dispatches is one `EVALSHA` of `apply.lua` (at most
//!   [`MAX_BATCH_EVENTS`] events and [`MAX_BATCH_BYTES`] of arguments per call, calls of
//!   several shards pipelined): Redis runs it atomically, so a reader sees an event entirely or
//!   not at all, and the script's outcome per event is that of running it once per event in
//!   order;
//! - the script first compares each dispatch with the shard's `session` and `seq`
//!   (`shard:<s>`, read once per call and kept in the script's locals): a sequence at or below
//!   the last applied one of the same session, or an event of a replaced session, is skipped,
//!   so duplicates and redeliveries never regress state; an event after a gap (and the rest of
//!   its session in the batch) is held or applied as [`Gaps`] says;
//! - READY of a new session bumps the shard's generation, removes the guilds the shard had that
//!   READY no longer lists (READY lists every guild of the shard), and marks the listed ones
//!   `complete=0` while keeping their data readable until their GUILD_CREATE replaces them in one
//!   step. There is no moment at which a live guild is missing.
//!
//! If a script fails part-way (Redis out of memory, a key of another type), Redis keeps the
//! writes made before the failure. The guard writes each event's sequence before its ops, so a
//! retry of the batch skips every event the failed call reached, and no non-idempotent write
//! (a user reference, a member count) is applied twice; the event that failed keeps the writes
//! made before its failure.
//! Reactions, while messages are cached, read the message first: the batch before them is
//! applied first.

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

/// Most events in one script call: a batch holds Redis for its whole run.
pub const MAX_BATCH_EVENTS: usize = 512;

/// Most argument bytes in one script call (an event larger than this goes alone).
pub const MAX_BATCH_BYTES: usize = 2 << 20;

/// A planned dispatch waiting for its script call.
struct Prepared {
    index: usize,
    /// The outcome when the script applies it.
    applied: Outcome,
    shard: u32,
    /// Session, sequence and guard kind, as `apply.lua` reads them.
    guard: [String; 3],
    /// The encoded ops.
    ops: Vec<String>,
    /// Argument bytes (guard and ops).
    bytes: usize,
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
                    let mut p = this.prepare(index, envelope, Vec::new(), gaps);
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
                    self.flush(&mut pending, &mut outcomes, fence).await?;
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
            pending.push(self.prepare(index, envelope, ops, gaps));
        }
        self.flush(&mut pending, &mut outcomes, fence).await?;
        Ok(outcomes)
    }

    fn prepare(&self, index: usize, envelope: &Envelope, ops: Vec<Op>, gaps: Gaps) -> Prepared {
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
        let guard = [
            session.unwrap_or_default(),
            seq.to_string(),
            kind.to_owned(),
        ];
        let mut writes = 0;
        let mut args = Vec::new();
        for op in ops {
            writes += op.writes();
            op.encode(&mut args);
        }
        let bytes = guard.iter().chain(&args).map(String::len).sum();
        Prepared {
            index,
            applied: Outcome::Applied { writes },
            shard: envelope.shard(),
            guard,
            ops: args,
            bytes,
        }
    }

    /// Applies `pending` with one script call per run of events of one shard, at most
    /// [`MAX_BATCH_EVENTS`] events and [`MAX_BATCH_BYTES`] argument bytes each, pipelined.
    async fn flush(
        &mut self,
        pending: &mut Vec<Prepared>,
        outcomes: &mut [Outcome],
        fence: Option<&Fencing>,
    ) -> Result<(), ProjectionError> {
        if pending.is_empty() {
            return Ok(());
        }
        let runs = runs(pending);
        let keys = self.planner.keys();
        let token = fence.map(|f| f.token.to_string()).unwrap_or_default();
        let mut pipe = redis::pipe();
        for run in &runs {
            let shard = pending[run.start].shard;
            let cmd = pipe
                .cmd("EVALSHA")
                .arg(self.script.get_hash())
                .arg(if fence.is_some() { 3 } else { 2 })
                .arg(keys.shard(shard))
                .arg(keys.shard_sessions(shard));
            if let Some(f) = fence {
                cmd.arg(&f.key);
            }
            cmd.arg(keys.prefix()).arg(shard).arg(&token).arg(run.len());
            for p in &pending[run.clone()] {
                cmd.arg(&p.guard[..]).arg(p.ops.len()).arg(&p.ops);
            }
        }
        let mut result = pipe.query_async::<Vec<Vec<i64>>>(&mut self.conn).await;
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
                let shard = pending.first().map(|p| p.shard).unwrap_or_default();
                pending.clear();
                return Err(ProjectionError::new(ProjectionErrorKind::Fenced { shard }));
            }
            Err(e) => return Err(e.into()),
        };
        if results.len() != runs.len()
            || runs
                .iter()
                .zip(&results)
                .any(|(run, codes)| run.len() != codes.len())
        {
            return Err(ProjectionError::with_source(
                ProjectionErrorKind::Redis,
                "the projection script returned a code count unlike the batch's event count",
            ));
        }
        let codes = results.into_iter().flatten();
        for (p, code) in pending.drain(..).zip(codes) {
            outcomes[p.index] = match code {
                1 => p.applied,
                2 => Outcome::Gap,
                _ => Outcome::Duplicate,
            };
        }
        Ok(())
    }
}

/// `pending` split into the script calls that apply it: consecutive events of one shard, at
/// most [`MAX_BATCH_EVENTS`] and [`MAX_BATCH_BYTES`] (an event larger than that alone).
fn runs(pending: &[Prepared]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, p) in pending.iter().enumerate() {
        let full = i - start >= MAX_BATCH_EVENTS || bytes + p.bytes > MAX_BATCH_BYTES;
        if i > start && (pending[start].shard != p.shard || full) {
            runs.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += p.bytes;
    }
    runs.push(start..pending.len());
    runs
}

#[derive(serde::Deserialize)]
struct ReadySession {
    session_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(shard: u32, bytes: usize) -> Prepared {
        Prepared {
            index: 0,
            applied: Outcome::Duplicate,
            shard,
            guard: Default::default(),
            ops: Vec::new(),
            bytes,
        }
    }

    #[test]
    fn runs_split_on_shard_count_and_bytes() {
        let mut pending: Vec<Prepared> =
            (0..MAX_BATCH_EVENTS + 3).map(|_| prepared(0, 10)).collect();
        pending.push(prepared(1, 10));
        pending.push(prepared(0, 10));
        assert_eq!(
            runs(&pending),
            vec![
                0..MAX_BATCH_EVENTS,
                MAX_BATCH_EVENTS..MAX_BATCH_EVENTS + 3,
                MAX_BATCH_EVENTS + 3..MAX_BATCH_EVENTS + 4,
                MAX_BATCH_EVENTS + 4..MAX_BATCH_EVENTS + 5,
            ]
        );
        // An event larger than the bound goes alone; smaller ones fill up to it.
        let half = MAX_BATCH_BYTES / 2;
        let pending = vec![
            prepared(0, half),
            prepared(0, half),
            prepared(0, 1),
            prepared(0, MAX_BATCH_BYTES * 3),
            prepared(0, 1),
        ];
        assert_eq!(runs(&pending), vec![0..2, 2..3, 3..4, 4..5]);
    }
}
