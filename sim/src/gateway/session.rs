//! Gateway sessions: the numbered dispatch stream of one shard, kept in a bounded buffer so a
//! RESUME can replay what the client missed
//! (<https://discord.com/developers/docs/events/gateway#resuming>).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;

/// One numbered dispatch frame, serialised once.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub seq: u64,
    pub name: Arc<str>,
    pub guild_id: Option<u64>,
    /// The frame's JSON, shared (reference-counted) between the buffer and the socket.
    pub text: Utf8Bytes,
}

#[derive(Debug)]
struct Inner {
    last_seq: u64,
    buffer: VecDeque<Frame>,
    /// Highest sequence dropped from the buffer (0: none).
    evicted_upto: u64,
    /// The newest sequence written to a connection.
    sent_upto: u64,
    valid: bool,
    attached: Option<u64>,
    detached_at_ms: Option<u64>,
}

/// Why frames could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Gap {
    /// The client is behind what the buffer still holds.
    Evicted,
}

/// A session started by an IDENTIFY.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: Arc<str>,
    pub shard: u32,
    pub intents: u64,
    cap: usize,
    inner: Mutex<Inner>,
    pub notify: Notify,
}

/// Result of checking a RESUME against a session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResumeCheck {
    Ok,
    /// Invalid or expired: op 9 `false`.
    Invalid,
    /// The sequence is ahead of the session: close 4007.
    BadSeq,
}

impl Session {
    pub(crate) fn new(id: Arc<str>, shard: u32, intents: u64, cap: usize) -> Self {
        Self {
            id,
            shard,
            intents,
            cap,
            inner: Mutex::new(Inner {
                last_seq: 0,
                buffer: VecDeque::new(),
                evicted_upto: 0,
                sent_upto: 0,
                valid: true,
                attached: None,
                detached_at_ms: None,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Numbers and buffers a dispatch; returns its sequence, or `None` if the session is no
    /// longer valid.
    pub(crate) fn push(&self, name: &str, guild_id: Option<u64>, data: &str) -> Option<u64> {
        let seq = {
            let mut g = self.lock();
            if !g.valid {
                return None;
            }
            g.last_seq += 1;
            let seq = g.last_seq;
            let text = format!(r#"{{"op":0,"s":{seq},"t":"{name}","d":{data}}}"#);
            g.buffer.push_back(Frame {
                seq,
                name: Arc::from(name),
                guild_id,
                text: Utf8Bytes::from(text),
            });
            while g.buffer.len() > self.cap {
                if let Some(f) = g.buffer.pop_front() {
                    g.evicted_upto = f.seq;
                }
            }
            seq
        };
        self.notify.notify_one();
        Some(seq)
    }

    /// Up to `max` frames with a sequence above `after`.
    pub(crate) fn frames_after(&self, after: u64, max: usize) -> Result<Vec<Frame>, Gap> {
        let g = self.lock();
        if after < g.evicted_upto {
            return Err(Gap::Evicted);
        }
        let first = g.buffer.front().map_or(0, |f| f.seq);
        let skip = usize::try_from((after + 1).saturating_sub(first)).unwrap_or(usize::MAX);
        Ok(g.buffer.iter().skip(skip).take(max).cloned().collect())
    }

    /// Records that a connection has written every dispatch up to `seq`.
    pub(crate) fn sent(&self, seq: u64) {
        let mut g = self.lock();
        g.sent_upto = g.sent_upto.max(seq);
    }

    /// Whether a whole buffer of dispatches is waiting to be written.
    pub(crate) fn is_full(&self) -> bool {
        let g = self.lock();
        g.last_seq.saturating_sub(g.sent_upto) >= self.cap as u64
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.lock().last_seq
    }

    pub(crate) fn is_valid(&self) -> bool {
        self.lock().valid
    }

    pub(crate) fn invalidate(&self) {
        self.lock().valid = false;
        self.notify.notify_one();
    }

    pub(crate) fn attach(&self, conn: u64) {
        let mut g = self.lock();
        g.attached = Some(conn);
        g.detached_at_ms = None;
    }

    pub(crate) fn is_attached_to(&self, conn: u64) -> bool {
        self.lock().attached == Some(conn)
    }

    pub(crate) fn detach(&self, conn: u64, now_ms: u64) {
        let mut g = self.lock();
        if g.attached == Some(conn) {
            g.attached = None;
            g.detached_at_ms = Some(now_ms);
        }
    }

    /// Can a client that last saw `seq` resume at simulated time `now_ms`?
    pub(crate) fn check_resume(&self, seq: u64, now_ms: u64, window_ms: u64) -> ResumeCheck {
        let g = self.lock();
        if !g.valid {
            return ResumeCheck::Invalid;
        }
        if g.detached_at_ms
            .is_some_and(|t| now_ms.saturating_sub(t) > window_ms)
        {
            return ResumeCheck::Invalid;
        }
        if seq > g.last_seq {
            return ResumeCheck::BadSeq;
        }
        if seq < g.evicted_upto {
            return ResumeCheck::Invalid;
        }
        ResumeCheck::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_is_bounded_and_resume_checks_it() {
        let s = Session::new(Arc::from("s"), 0, 0, 3);
        for _ in 0..5 {
            s.push("X", None, "{}");
        }
        assert!(matches!(s.frames_after(1, 10), Err(Gap::Evicted)));
        let f = s.frames_after(2, 10).unwrap();
        assert_eq!(f.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(s.check_resume(1, 0, 10), ResumeCheck::Invalid);
        assert_eq!(s.check_resume(2, 0, 10), ResumeCheck::Ok);
        assert_eq!(s.check_resume(6, 0, 10), ResumeCheck::BadSeq);
        s.attach(1);
        s.detach(1, 100);
        assert_eq!(s.check_resume(4, 200, 10), ResumeCheck::Invalid);
    }
}
