//! The record of what each session was sent, so tests can prove no gap, no duplicate and no new
//! IDENTIFY.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;

/// One dispatch written to a websocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentDispatch {
    /// `session_id` of the session the dispatch belongs to.
    pub session_id: String,
    /// Shard id of the session.
    pub shard: u32,
    /// Sequence number (`s`).
    pub seq: u64,
    /// Event name (`t`).
    pub event: String,
    /// Guild snowflake, if the dispatch belongs to a guild.
    pub guild_id: Option<u64>,
    /// Simulator-local id of the websocket connection it was written to.
    pub connection: u64,
    /// True if it was sent again while replaying a RESUME.
    pub replayed: bool,
}

/// Per-shard counters of the gateway lifecycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShardCounts {
    /// Shard id.
    pub shard: u32,
    /// Websocket connections that identified or resumed as this shard.
    pub connections: u64,
    /// IDENTIFYs accepted (each starts a new session).
    pub identifies: u64,
    /// IDENTIFYs refused with op 9 because of `max_concurrency` or `session_start_limit`.
    pub refused_identifies: u64,
    /// RESUMEs accepted.
    pub resumes: u64,
    /// RESUMEs refused with op 9 `false`.
    pub refused_resumes: u64,
    /// Simulated-clock ms (see [`crate::SimClock`]) of every accepted IDENTIFY, in order.
    pub identify_times_ms: Vec<u64>,
}

/// A websocket connection that identified or resumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionInfo {
    /// Simulator-local connection id (as in [`SentDispatch::connection`]).
    pub connection: u64,
    /// Shard id.
    pub shard: u32,
    /// Session the connection identified or resumed.
    pub session_id: String,
    /// `"IDENTIFY"` or `"RESUME"`.
    pub started_by: &'static str,
    /// Transport compression the connection asked for.
    pub compression: crate::Compression,
}

/// Everything recorded so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordSnapshot {
    /// Dispatches in the order they were written (per connection; connections interleave).
    pub dispatches: Vec<SentDispatch>,
    /// Dispatches not kept because the record was full (`record_limit`).
    pub dropped: u64,
    /// Connections that identified or resumed, in order.
    pub connections: Vec<ConnectionInfo>,
    /// Counters per shard, indexed by shard id.
    pub shards: Vec<ShardCounts>,
    /// Dispatches written to websockets in total.
    pub events_sent: u64,
    /// Bytes written to websockets in total (after compression), all opcodes.
    pub bytes_sent: u64,
    /// Dispatches the traffic generated (or replayed) so far.
    pub generated: u64,
    /// Dispatches the traffic did not generate because their shard's connection was a whole
    /// resume buffer behind (`--shed-when-behind`).
    pub shed: u64,
}

impl RecordSnapshot {
    /// Session ids that were sent anything, in first-seen order.
    pub fn session_ids(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in &self.dispatches {
            if !out.contains(&d.session_id) {
                out.push(d.session_id.clone());
            }
        }
        out
    }

    /// Sequences sent for the first time (replays excluded) in `session_id`, in send order.
    /// For a healthy session this is `1..=n` without gaps or duplicates.
    pub fn first_sends(&self, session_id: &str) -> Vec<u64> {
        self.dispatches
            .iter()
            .filter(|d| d.session_id == session_id && !d.replayed)
            .map(|d| d.seq)
            .collect()
    }

    /// Accepted IDENTIFYs over all shards.
    pub fn total_identifies(&self) -> u64 {
        self.shards.iter().map(|s| s.identifies).sum()
    }

    /// Accepted RESUMEs over all shards.
    pub fn total_resumes(&self) -> u64 {
        self.shards.iter().map(|s| s.resumes).sum()
    }
}

/// Bounded, thread-safe list of sent dispatches, with their payloads when asked to keep them.
#[derive(Debug)]
pub struct Record {
    limit: usize,
    keep_frames: bool,
    entries: Mutex<Entries>,
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct Entries {
    sent: Vec<SentDispatch>,
    /// The frame of each entry of `sent` (same index) when frames are kept: on the first
    /// entry of each (session, seq) only.
    frames: Vec<Option<Utf8Bytes>>,
    /// (session, seq) whose frame is kept.
    framed: std::collections::HashSet<(String, u64)>,
}

impl Record {
    /// A record that keeps at most `limit` entries, and their frames if `keep_frames`.
    pub fn new(limit: usize, keep_frames: bool) -> Self {
        Self {
            limit,
            keep_frames,
            entries: Mutex::new(Entries::default()),
            dropped: AtomicU64::new(0),
        }
    }

    /// Whether entries are kept at all.
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Whether the frames of first sends are kept (`GET /control/frames`).
    pub fn keeps_frames(&self) -> bool {
        self.enabled() && self.keep_frames
    }

    /// Appends entries, dropping what does not fit.
    pub fn extend(&self, items: impl IntoIterator<Item = SentDispatch>) {
        self.extend_frames(items.into_iter().map(|d| (d, None)));
    }

    /// Appends entries with their frames (kept for first sends when frames are kept).
    pub(crate) fn extend_frames(
        &self,
        items: impl IntoIterator<Item = (SentDispatch, Option<Utf8Bytes>)>,
    ) {
        if !self.enabled() {
            return;
        }
        let Ok(mut e) = self.entries.lock() else {
            return;
        };
        for (item, frame) in items {
            if e.sent.len() < self.limit {
                // A dispatch whose first write failed is recorded only as a RESUME replay, so
                // the frame kept is the first of each (session, seq), replayed or not.
                let frame = frame.filter(|_| {
                    self.keep_frames && e.framed.insert((item.session_id.clone(), item.seq))
                });
                e.sent.push(item);
                e.frames.push(frame);
            } else {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A copy of the entries and the count of dropped ones.
    pub fn snapshot(&self) -> (Vec<SentDispatch>, u64) {
        let e = self
            .entries
            .lock()
            .map(|e| e.sent.clone())
            .unwrap_or_default();
        (e, self.dropped.load(Ordering::Relaxed))
    }

    /// The first entry of each (session, seq), in record order, with its frame.
    pub(crate) fn frames(&self) -> Vec<(SentDispatch, Utf8Bytes)> {
        let Ok(e) = self.entries.lock() else {
            return Vec::new();
        };
        e.sent
            .iter()
            .zip(&e.frames)
            .filter_map(|(d, f)| Some((d.clone(), f.clone()?)))
            .collect()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.lock() {
            *e = Entries::default();
        }
        self.dropped.store(0, Ordering::Relaxed);
    }
}
