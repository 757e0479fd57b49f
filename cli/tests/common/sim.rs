//! The simulator as a process: its control API, its record and its recorded frames.

use std::collections::HashMap;

use serde::Deserialize;

use super::http;

/// One recorded dispatch (`GET /control/record`).
#[derive(Debug, Clone, Deserialize)]
pub struct Sent {
    /// Session id.
    pub session_id: String,
    /// Shard.
    pub shard: u32,
    /// Sequence.
    pub seq: u64,
    /// Event name.
    pub event: String,
    /// Re-sent while replaying a RESUME.
    pub replayed: bool,
}

/// Counters of one shard.
#[derive(Debug, Clone, Deserialize)]
pub struct ShardCounts {
    /// Shard id.
    pub shard: u32,
    /// Accepted IDENTIFYs.
    pub identifies: u64,
    /// Accepted RESUMEs.
    pub resumes: u64,
}

/// `GET /control/record` (or `/control/stats`, without dispatches).
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// Dispatches in the order written.
    #[serde(default)]
    pub dispatches: Vec<Sent>,
    /// Dispatches the record had no room for.
    pub dropped: u64,
    /// Per-shard counters.
    pub shards: Vec<ShardCounts>,
    /// Dispatches written in total (re-sends included).
    pub events_sent: u64,
}

impl Record {
    /// The first sends (no RESUME replays), in order.
    pub fn first_sends(&self) -> impl Iterator<Item = &Sent> {
        self.dispatches.iter().filter(|d| !d.replayed)
    }

    /// Event name of each (shard, session, seq) sent (a dispatch whose first write failed
    /// appears only as a RESUME replay).
    pub fn events(&self) -> HashMap<(u32, String, u64), String> {
        self.dispatches
            .iter()
            .map(|d| ((d.shard, d.session_id.clone(), d.seq), d.event.clone()))
            .collect()
    }
}

/// A simulator's control API at `addr` (`127.0.0.1:port`).
#[derive(Debug, Clone)]
pub struct SimControl {
    /// The address.
    pub addr: String,
}

impl SimControl {
    /// `ws://addr`, for `DDISCORD_GATEWAY_URL`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    async fn get(&self, path: &str) -> Result<String, String> {
        match http(&self.addr, "GET", path).await {
            Ok((200, body)) => Ok(body),
            Ok((status, body)) => Err(format!("GET {path}: {status} {body}")),
            Err(e) => Err(format!("GET {path}: {e}")),
        }
    }

    /// The counters (no dispatch list).
    pub async fn stats(&self) -> Result<Record, String> {
        let body = self.get("/control/stats").await?;
        serde_json::from_str(&body).map_err(|e| format!("/control/stats: {e}"))
    }

    /// The full record.
    pub async fn record(&self) -> Record {
        let body = self.get("/control/record").await.unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// The recorded first sends as envelopes, in record order (needs `--record-frames`).
    pub async fn frames(&self) -> Vec<bytes::Bytes> {
        let body = self.get("/control/frames").await.unwrap();
        body.lines()
            .filter(|l| !l.is_empty())
            .map(|l| bytes::Bytes::from(l.to_owned()))
            .collect()
    }

    /// Changes the generated rate (0 stops the traffic).
    pub async fn set_rate(&self, events_per_sec: f64) {
        let path = format!("/control/rate?events_per_sec={events_per_sec}");
        let (status, body) = http(&self.addr, "POST", &path).await.unwrap();
        assert_eq!(status, 200, "POST {path}: {body}");
    }
}
