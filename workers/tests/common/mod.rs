//! Shared helpers: sessions assembled from the captured fixtures, and Redis snapshots.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use bytes::Bytes;
use ddiscord::Envelope;
use ddiscord::envelope::{EnvelopeMeta, wrap};
use serde_json::Value;

pub const LARGE_GUILD: u64 = 81384788765712384;
pub const V10_GUILD_A: u64 = 900000000000000008;
pub const V10_GUILD_B: u64 = 900000000000000034;

fn read(name: &str) -> String {
    std::fs::read_to_string(ddiscord_testkit::fixtures_dir().join(name)).unwrap()
}

/// Every frame of the fixtures, parsed.
pub struct Fixtures {
    pub ready: Value,
    pub large: Value,
    pub v10: Vec<Value>,
    pub v6: Vec<Value>,
}

impl Fixtures {
    pub fn load() -> Self {
        let v10: Vec<Value> = read("events_v10.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let v6 = read("events_v6_upgraded.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ready = v10.iter().find(|f| f["t"] == "READY").unwrap().clone();
        let large = serde_json::from_str(&read("guild_create_large.json")).unwrap();
        Self {
            ready,
            large,
            v10,
            v6,
        }
    }

    /// READY listing `guilds` with session id `session`.
    pub fn ready_for(&self, session: &str, guilds: &[u64]) -> Value {
        let mut ready = self.ready.clone();
        ready["d"]["session_id"] = Value::from(session);
        ready["d"]["guilds"] = guilds
            .iter()
            .map(|g| serde_json::json!({"id": g.to_string(), "unavailable": true}))
            .collect();
        ready
    }

    pub fn guild_create(&self, guild: u64) -> Value {
        if guild == LARGE_GUILD {
            return self.large.clone();
        }
        self.v10
            .iter()
            .find(|f| {
                f["t"] == "GUILD_CREATE"
                    && f["d"]["id"].as_str() == Some(guild.to_string().as_str())
            })
            .unwrap()
            .clone()
    }

    /// The dispatches other than READY and GUILD_CREATE, v6 captures first.
    pub fn dispatches(&self) -> Vec<Value> {
        self.v6
            .iter()
            .chain(self.v10.iter())
            .filter(|f| f["op"] == 0 && f["t"] != "READY" && f["t"] != "GUILD_CREATE")
            .cloned()
            .collect()
    }

    /// A consistent session: READY listing every guild, their GUILD_CREATEs, then the other
    /// dispatches.
    pub fn session(&self, session: &str) -> Vec<Value> {
        let guilds = [LARGE_GUILD, V10_GUILD_A, V10_GUILD_B];
        let mut frames = vec![self.ready_for(session, &guilds)];
        frames.extend(guilds.iter().map(|g| self.guild_create(*g)));
        frames.extend(self.dispatches());
        frames
    }
}

/// Numbers `frames` from `first` and wraps them as envelopes of `shard`/`session`.
pub fn envelopes(frames: &[Value], shard: u32, session: &str, first: u64) -> Vec<Bytes> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut f = f.clone();
            f["s"] = Value::from(first + i as u64);
            let meta = EnvelopeMeta {
                shard,
                session: Some(session),
                received_ms: 1,
            };
            wrap(&meta, &serde_json::to_vec(&f).unwrap()).unwrap()
        })
        .collect()
}

pub fn parse(envs: &[Bytes]) -> Vec<Envelope> {
    envs.iter()
        .map(|b| Envelope::parse(b.clone()).unwrap())
        .collect()
}

pub async fn redis(url: &str) -> redis::aio::ConnectionManager {
    let client = redis::Client::open(url).unwrap();
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(ddiscord_workers::SCRIPT_RESPONSE_TIMEOUT));
    redis::aio::ConnectionManager::new_with_config(client, config)
        .await
        .unwrap()
}

/// Every key under `prefix` with its value, prefix stripped, in a comparable form.
pub async fn snapshot(
    conn: &mut redis::aio::ConnectionManager,
    prefix: &str,
) -> BTreeMap<String, String> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(conn)
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(conn)
            .await
            .unwrap();
        let value = match kind.as_str() {
            "string" => redis::cmd("GET")
                .arg(&key)
                .query_async::<String>(conn)
                .await
                .unwrap(),
            "hash" => {
                let m: BTreeMap<String, String> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(conn)
                    .await
                    .unwrap();
                format!("{m:?}")
            }
            "list" => {
                let l: Vec<String> = redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(conn)
                    .await
                    .unwrap();
                format!("{l:?}")
            }
            other => format!("<{other}>"),
        };
        out.insert(key[prefix.len()..].to_owned(), value);
    }
    out
}
