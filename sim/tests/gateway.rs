//! The simulator over real websockets, with twilight-gateway 0.18 as the client.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::time::Duration;

use ddiscord_sim::{ClockMode, SimConfig, SimHandle, Simulator};
use futures::StreamExt;
use serde::de::DeserializeSeed;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::time::timeout;
use twilight_gateway::queue::Queue;
use twilight_gateway::{ConfigBuilder, Intents, Message, Shard, ShardId};
use twilight_model::gateway::event::GatewayEventDeserializer;

const TOKEN: &str = "sim-token";
const WAIT: Duration = Duration::from_secs(15);

/// Lets every IDENTIFY through at once; the simulator enforces the 5 s buckets.
#[derive(Debug, Clone, Copy)]
struct NoQueue;

impl Queue for NoQueue {
    fn enqueue(&self, _id: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(());
        rx
    }
}

fn base() -> SimConfig {
    SimConfig {
        guilds: 3,
        clock: ClockMode::Manual,
        ..SimConfig::default()
    }
}

async fn start(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg).await.unwrap()
}

fn shard(sim: &SimHandle, id: u32, total: u32, token: &str, intents: Intents) -> Shard<NoQueue> {
    let config = ConfigBuilder::new(token.to_owned(), intents)
        .proxy_url(sim.ws_url())
        .queue(NoQueue)
        .build();
    Shard::with_config(ShardId::new(id, total), config)
}

/// What the client saw.
#[derive(Debug, Clone)]
enum Seen {
    Json(Value, String),
    Close(Option<u16>),
    End,
}

impl Seen {
    fn op(&self) -> Option<u64> {
        match self {
            Self::Json(v, _) => v["op"].as_u64(),
            _ => None,
        }
    }
    fn t(&self) -> Option<&str> {
        match self {
            Self::Json(v, _) => v["t"].as_str(),
            _ => None,
        }
    }
    fn s(&self) -> Option<u64> {
        match self {
            Self::Json(v, _) => v["s"].as_u64(),
            _ => None,
        }
    }
}

async fn next(shard: &mut Shard<NoQueue>) -> Seen {
    loop {
        match shard.next().await {
            None => return Seen::End,
            Some(Ok(Message::Text(t))) => {
                return Seen::Json(serde_json::from_str(&t).unwrap(), t);
            }
            Some(Ok(Message::Close(f))) => return Seen::Close(f.map(|f| f.code)),
            Some(Err(_)) => {}
        }
    }
}

/// Reads until `pred` matches; returns everything read (the match last).
async fn until(shard: &mut Shard<NoQueue>, pred: impl Fn(&Seen) -> bool) -> Vec<Seen> {
    let mut out = Vec::new();
    timeout(WAIT, async {
        loop {
            let s = next(shard).await;
            let done = pred(&s) || matches!(s, Seen::End);
            out.push(s);
            if done {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "timed out; saw {:?}",
            out.iter()
                .map(|s| (s.op(), s.t().map(str::to_owned), s.s()))
                .collect::<Vec<_>>()
        )
    });
    out
}

fn dispatch_seqs(seen: &[Seen]) -> Vec<u64> {
    seen.iter()
        .filter(|s| s.op() == Some(0))
        .filter_map(Seen::s)
        .collect()
}

fn assert_contiguous(seqs: &[u64]) {
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0] + 1, "sequence gap or duplicate in {seqs:?}");
    }
}

fn twilight_parses(text: &str) {
    let de = GatewayEventDeserializer::from_json(text).unwrap();
    let mut json = serde_json::Deserializer::from_str(text);
    de.deserialize(&mut json).unwrap();
}

#[tokio::test]
async fn identify_ready_guild_create_and_dispatches() {
    let sim = start(SimConfig {
        large_guild: true,
        events_per_sec: 400.0,
        ..base()
    })
    .await;
    let guilds = sim.guilds_of_shard(0);
    assert_eq!(guilds.len(), 4);
    let mut s = shard(&sim, 0, 1, TOKEN, Intents::all());
    let seen = until(&mut s, |s| s.t() == Some("READY")).await;
    let Seen::Json(ready, _) = seen.last().unwrap() else {
        panic!()
    };
    assert_eq!(ready["d"]["resume_gateway_url"], sim.ws_url());
    assert_eq!(ready["d"]["guilds"].as_array().unwrap().len(), 4);
    let mut all = seen;
    while all.iter().filter(|s| s.t() == Some("GUILD_CREATE")).count() < 4 {
        all.extend(until(&mut s, |s| s.t() == Some("GUILD_CREATE")).await);
    }
    let mut creates = HashSet::new();
    for x in &all {
        if let Seen::Json(v, text) = x
            && x.t() == Some("GUILD_CREATE")
        {
            twilight_parses(text);
            creates.insert(v["d"]["id"].as_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert_eq!(creates, guilds.iter().copied().collect::<HashSet<u64>>());
    // twilight asks for large_threshold 50: the large guild comes without its offline members.
    let large = all
        .iter()
        .filter_map(|s| match s {
            Seen::Json(v, _) if s.t() == Some("GUILD_CREATE") => Some(v["d"].clone()),
            _ => None,
        })
        .max_by_key(|d| d["member_count"].as_u64().unwrap())
        .unwrap();
    assert!(large["member_count"].as_u64().unwrap() >= 9593);
    assert_eq!(large["large"], true);
    let sent = large["members"].as_array().unwrap().len() as u64;
    assert!(
        sent < large["member_count"].as_u64().unwrap(),
        "{sent} members sent"
    );
    // Then generated dispatches.
    let mut n = 0;
    while n < 50 {
        let s2 = until(&mut s, |s| s.op() == Some(0)).await;
        all.extend(s2);
        n += 1;
    }
    assert_contiguous(&dispatch_seqs(&all));
    let counts = sim.shard_counts(0).unwrap();
    assert_eq!(counts.identifies, 1);
    let rec = sim.record();
    assert!(rec.dispatches.iter().any(|d| d.event == "READY"));
}

#[tokio::test]
async fn reconnect_resumes_without_gap() {
    let sim = start(SimConfig {
        events_per_sec: 500.0,
        ..base()
    })
    .await;
    let mut s = shard(&sim, 0, 1, TOKEN, Intents::all());
    let mut all = until(&mut s, |s| s.t() == Some("READY")).await;
    for _ in 0..30 {
        all.extend(until(&mut s, |s| s.op() == Some(0)).await);
    }
    assert_eq!(sim.reconnect(0).unwrap(), 1);
    all.extend(until(&mut s, |s| s.t() == Some("RESUMED")).await);
    for _ in 0..30 {
        all.extend(until(&mut s, |s| s.op() == Some(0)).await);
    }
    assert!(all.iter().any(|s| s.op() == Some(7)));
    assert_contiguous(&dispatch_seqs(&all));
    let c = sim.shard_counts(0).unwrap();
    assert_eq!((c.identifies, c.resumes), (1, 1));
    // The record shows one session, every sequence once per connection.
    let rec = sim.record();
    let sessions: HashSet<_> = rec
        .dispatches
        .iter()
        .map(|d| d.session_id.clone())
        .collect();
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn invalid_session_false_gets_a_fresh_identify() {
    let sim = start(SimConfig {
        events_per_sec: 100.0,
        ..base()
    })
    .await;
    let mut s = shard(&sim, 0, 1, TOKEN, Intents::all());
    let first = until(&mut s, |s| s.t() == Some("READY")).await;
    let Some(Seen::Json(r1, _)) = first.last() else {
        panic!()
    };
    let sid1 = r1["d"]["session_id"].as_str().unwrap().to_owned();
    sim.advance(Duration::from_secs(5));
    assert_eq!(sim.invalidate(0, false).unwrap(), 1);
    let second = until(&mut s, |s| s.t() == Some("READY")).await;
    assert!(second.iter().any(|s| s.op() == Some(9)));
    let Some(Seen::Json(r2, _)) = second.last() else {
        panic!()
    };
    assert_ne!(r2["d"]["session_id"].as_str().unwrap(), sid1);
    assert_eq!(r2["s"], 1);
    let c = sim.shard_counts(0).unwrap();
    assert_eq!((c.identifies, c.resumes), (2, 0));
}

#[tokio::test]
async fn invalid_session_resumable_resumes() {
    let sim = start(SimConfig {
        events_per_sec: 300.0,
        ..base()
    })
    .await;
    let mut s = shard(&sim, 0, 1, TOKEN, Intents::all());
    let mut all = until(&mut s, |s| s.t() == Some("READY")).await;
    for _ in 0..10 {
        all.extend(until(&mut s, |s| s.op() == Some(0)).await);
    }
    sim.invalidate(0, true).unwrap();
    all.extend(until(&mut s, |s| s.t() == Some("RESUMED")).await);
    for _ in 0..10 {
        all.extend(until(&mut s, |s| s.op() == Some(0)).await);
    }
    assert_contiguous(&dispatch_seqs(&all));
    let c = sim.shard_counts(0).unwrap();
    assert_eq!((c.identifies, c.resumes), (1, 1));
}

#[tokio::test]
async fn zombie_connection_is_detected_and_resumed() {
    let sim = start(SimConfig {
        events_per_sec: 200.0,
        heartbeat_interval_ms: 400,
        ..base()
    })
    .await;
    let mut s = shard(&sim, 0, 1, TOKEN, Intents::all());
    let mut all = until(&mut s, |s| s.t() == Some("READY")).await;
    for _ in 0..10 {
        all.extend(until(&mut s, |s| s.op() == Some(0)).await);
    }
    assert_eq!(sim.zombie(0).unwrap(), 1);
    all.extend(until(&mut s, |s| s.t() == Some("RESUMED")).await);
    for _ in 0..10 {
        all.extend(until(&mut s, |s| s.op() == Some(0)).await);
    }
    assert_contiguous(&dispatch_seqs(&all));
    let c = sim.shard_counts(0).unwrap();
    assert_eq!((c.identifies, c.resumes), (1, 1));
}

#[tokio::test]
async fn tcp_drop_is_resumed() {
    let sim = start(SimConfig {
        events_per_sec: 300.0,
        ..base()
    })
    .await;
    let mut s = shard(&sim, 0, 1, TOKEN, Intents::all());
    let mut all = until(&mut s, |s| s.t() == Some("READY")).await;
    for _ in 0..10 {
        all.extend(until(&mut s, |s| s.op() == Some(0)).await);
    }
    assert_eq!(sim.drop_connection(0).unwrap(), 1);
    all.extend(until(&mut s, |s| s.t() == Some("RESUMED")).await);
    for _ in 0..10 {
        all.extend(until(&mut s, |s| s.op() == Some(0)).await);
    }
    assert_contiguous(&dispatch_seqs(&all));
    let c = sim.shard_counts(0).unwrap();
    assert_eq!((c.identifies, c.resumes), (1, 1));
}

#[tokio::test]
async fn bad_token_closes_4004_fatally() {
    let sim = start(base()).await;
    let mut s = shard(&sim, 0, 1, "wrong", Intents::GUILDS);
    let seen = until(&mut s, |s| matches!(s, Seen::Close(_))).await;
    assert!(matches!(seen.last(), Some(Seen::Close(Some(4004)))));
    assert!(
        matches!(next(&mut s).await, Seen::End),
        "4004 must be fatal for twilight"
    );
}

#[tokio::test]
async fn disallowed_intents_close_4014() {
    let sim = start(SimConfig {
        privileged_intents: 0,
        ..base()
    })
    .await;
    let mut s = shard(
        &sim,
        0,
        1,
        TOKEN,
        Intents::GUILDS | Intents::GUILD_PRESENCES,
    );
    let seen = until(&mut s, |s| matches!(s, Seen::Close(_))).await;
    assert!(matches!(seen.last(), Some(Seen::Close(Some(4014)))));
}

#[tokio::test]
async fn sixteen_shards_identify_in_separate_windows() {
    let sim = start(SimConfig {
        shards: 16,
        guilds: 16,
        max_concurrency: 1,
        ..base()
    })
    .await;
    let mut shards = Vec::new();
    let mut s0 = shard(&sim, 0, 16, TOKEN, Intents::GUILDS);
    until(&mut s0, |s| s.t() == Some("READY")).await;
    shards.push(s0);
    // Same 5 s window: refused with op 9 false.
    let mut s1 = shard(&sim, 1, 16, TOKEN, Intents::GUILDS);
    let seen = until(&mut s1, |s| s.op() == Some(9)).await;
    assert_eq!(
        match seen.last() {
            Some(Seen::Json(v, _)) => v["d"].clone(),
            _ => Value::Null,
        },
        Value::Bool(false)
    );
    sim.advance(Duration::from_secs(5));
    until(&mut s1, |s| s.t() == Some("READY")).await;
    shards.push(s1);
    for id in 2..16 {
        sim.advance(Duration::from_secs(5));
        let mut s = shard(&sim, id, 16, TOKEN, Intents::GUILDS);
        let seen = until(&mut s, |s| s.t() == Some("GUILD_CREATE")).await;
        let Some(Seen::Json(v, _)) = seen.last() else {
            panic!()
        };
        let gid: u64 = v["d"]["id"].as_str().unwrap().parse().unwrap();
        assert_eq!((gid >> 22) % 16, u64::from(id));
        shards.push(s);
    }
    let rec = sim.record();
    let mut times: Vec<u64> = rec
        .shards
        .iter()
        .flat_map(|s| s.identify_times_ms.clone())
        .collect();
    times.sort_unstable();
    assert_eq!(times.len(), 16);
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= 5000,
            "two IDENTIFYs in one 5 s window: {times:?}"
        );
    }
    assert!(rec.shards[1].refused_identifies >= 1);
}

#[tokio::test]
async fn replay_sends_the_file_as_one_session() {
    let dir = ddiscord_sim::fixtures::locate(None).unwrap();
    let path = dir.join("events_v6_upgraded.jsonl");
    let sim = start(SimConfig {
        replay: Some(ddiscord_sim::ReplaySpec { path, shard: 0 }),
        events_per_sec: 0.0,
        ..base()
    })
    .await;
    let mut s = shard(&sim, 0, 1, TOKEN, Intents::all());
    let mut all = until(&mut s, |s| s.t() == Some("READY")).await;
    all.extend(until(&mut s, |s| s.t() == Some("GUILD_DELETE")).await);
    assert_contiguous(&dispatch_seqs(&all));
    let names: Vec<String> = all
        .iter()
        .filter_map(|s| s.t().map(str::to_owned))
        .collect();
    assert!(names.contains(&"CHANNEL_CREATE".to_owned()));
    assert!(names.contains(&"WEBHOOKS_UPDATE".to_owned()));
}
