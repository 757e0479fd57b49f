//! Projection throughput and memory, against baselines measured in the same run.
//!
//! `cargo bench -p ddiscord-workers --bench projection`
//!
//! - Throughput. Projection side: the clock starts with the dispatches already parsed as
//!   envelopes (`Envelope::parse`, done before for both workloads) and stops when Redis has
//!   answered the last script call; it times planning (splitting `d`, building and encoding
//!   the ops), the script calls (one per batch of a shard's events) and the round trips.
//!   Figures: single-key Redis writes (hash fields and string keys, `Outcome::Applied`'s
//!   `writes`) per second, and events per second. Baseline side: `redis-benchmark -P 16 -n
//!   300000 -t set,hset` against the same private Redis in the same run, timed by
//!   redis-benchmark itself: commands per second, each one single-key write, the better of
//!   SET and HSET. Ratios are projection writes/s over baseline commands/s. The planning time
//!   is measured again alone over the same envelopes (same parsing, no Redis) and printed as
//!   the share of it in the Rust process.
//!   Workloads: the 9,593-member GUILD_CREATE (`guild_create_large.json`) replacing itself 10
//!   times, one `apply` each; a dispatch mix of every fixture dispatch except READY and
//!   GUILD_CREATE, 400 times over, in `apply_batch` calls of 256.
//! - Memory: Redis `MEMORY USAGE` per cached member (member hash field + its user key) beside
//!   twilight-cache-inmemory's heap per member for the same guild (counting allocator).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// The counting allocator below needs `unsafe impl GlobalAlloc`; it only forwards to System.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use ddiscord::Envelope;
use ddiscord::cache::Keys;
use ddiscord::envelope::{EnvelopeMeta, wrap};
use ddiscord_testkit::RedisServer;
use ddiscord_workers::{Outcome, ProjectionConfig, Projector};
use serde::de::DeserializeSeed;
use serde_json::Value;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(ddiscord_testkit::fixtures_dir().join(name)).unwrap()
}

fn envelope(frame: &Value, seq: u64) -> Envelope {
    let mut f = frame.clone();
    f["s"] = Value::from(seq);
    let meta = EnvelopeMeta {
        shard: 0,
        session: Some("bench"),
        received_ms: 1,
    };
    Envelope::parse(wrap(&meta, &serde_json::to_vec(&f).unwrap()).unwrap()).unwrap()
}

fn redis_benchmark(port: u16) -> Vec<(String, f64)> {
    let out = std::process::Command::new("redis-benchmark")
        .args([
            "-p",
            &port.to_string(),
            "-P",
            "16",
            "-q",
            "-n",
            "300000",
            "-t",
            "set,hset",
        ])
        .output()
        .expect("redis-benchmark on PATH");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(": ")?;
            let rps: f64 = rest.split_whitespace().next()?.parse().ok()?;
            Some((name.trim().to_owned(), rps))
        })
        .collect()
}

/// Clears Redis's per-command statistics.
async fn reset_stats(conn: &mut redis::aio::ConnectionManager) {
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(conn)
        .await
        .unwrap();
}

/// Seconds Redis spent running `EVALSHA` since [`reset_stats`] (`INFO commandstats`).
async fn evalsha_secs(conn: &mut redis::aio::ConnectionManager) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:"))
        .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("usec=")))
        .and_then(|u| u.parse::<f64>().ok())
        .map_or(0.0, |u| u / 1e6)
}

async fn memory_usage(conn: &mut redis::aio::ConnectionManager, key: &str) -> u64 {
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(key)
        .arg("SAMPLES")
        .arg(0)
        .query_async::<Option<u64>>(conn)
        .await
        .unwrap()
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let server = RedisServer::start().unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = redis::aio::ConnectionManager::new(client).await.unwrap();
    let keys = Keys::default();
    let mut projector = Projector::new(conn.clone(), keys.clone(), ProjectionConfig::default());

    // Baseline: redis-benchmark -P 16 on the same server.
    let baseline = redis_benchmark(server.port());
    for (name, rps) in &baseline {
        println!("baseline redis-benchmark -P 16 {name}: {rps:.0} commands/s");
    }
    let base_rps = baseline.iter().map(|(_, r)| *r).fold(0.0, f64::max);

    // 1. The 9,593-member GUILD_CREATE, replaced N times.
    let large: Value = serde_json::from_str(&fixture("guild_create_large.json")).unwrap();
    let rounds = 10u64;
    let envs: Vec<Envelope> = (1..=rounds).map(|s| envelope(&large, s)).collect();
    reset_stats(&mut conn).await;
    let started = Instant::now();
    let mut writes = 0;
    for env in &envs {
        match projector.apply(env).await.unwrap() {
            Outcome::Applied { writes: w } => writes += w,
            other => panic!("{other:?}"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let script_secs = evalsha_secs(&mut conn).await;
    let planner = projector.planner().clone();
    let t = Instant::now();
    for env in &envs {
        let _ = planner.plan(env).unwrap();
    }
    let plan_secs = t.elapsed().as_secs_f64();
    let rate = writes as f64 / secs;
    println!(
        "GUILD_CREATE 9,593 members: {rounds} applies in {secs:.2} s = {:.1} ms each, {:.1} events/s, {rate:.0} writes/s = {:.2}x redis-benchmark -P 16 commands/s (best of SET/HSET); of which planning (split + ops) {:.1} ms each, Redis running the script {:.1} ms each",
        secs * 1000.0 / rounds as f64,
        rounds as f64 / secs,
        rate / base_rps,
        plan_secs * 1000.0 / rounds as f64,
        script_secs * 1000.0 / rounds as f64
    );

    // 2. A dispatch mix: every fixture dispatch except READY/GUILD_CREATE, in batches of 256.
    let mut frames: Vec<Value> = Vec::new();
    for f in ["events_v6_upgraded.jsonl", "events_v10.jsonl"] {
        for line in fixture(f).lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["op"] == 0 && v["t"] != "READY" && v["t"] != "GUILD_CREATE" {
                frames.push(v);
            }
        }
    }
    let mut seq = rounds + 1;
    let mix: Vec<Envelope> = (0..400)
        .flat_map(|_| frames.iter())
        .map(|f| {
            seq += 1;
            envelope(f, seq)
        })
        .collect();
    reset_stats(&mut conn).await;
    let started = Instant::now();
    let mut writes = 0;
    let mut applied = 0;
    for chunk in mix.chunks(256) {
        for o in projector.apply_batch(chunk).await.unwrap() {
            if let Outcome::Applied { writes: w } = o {
                writes += w;
                applied += 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mix_script_secs = evalsha_secs(&mut conn).await;
    let t = Instant::now();
    for env in &mix {
        let _ = planner.plan(env).unwrap();
    }
    let plan_secs = t.elapsed().as_secs_f64();
    println!(
        "dispatch mix ({} kinds, {} events, {applied} applied): {:.0} events/s, {:.0} writes/s = {:.2}x redis-benchmark -P 16 commands/s (best of SET/HSET); of which planning (split + ops) {:.1} us/event, Redis running the script {:.1} us/event",
        frames.len(),
        mix.len(),
        mix.len() as f64 / secs,
        writes as f64 / secs,
        writes as f64 / secs / base_rps,
        plan_secs * 1e6 / mix.len() as f64,
        mix_script_secs * 1e6 / mix.len() as f64
    );

    // 3. Memory per member, Redis beside twilight-cache-inmemory, same guild.
    let g = large["d"]["id"].as_str().unwrap().parse::<u64>().unwrap();
    let members: Vec<u64> = large["d"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let members_hash = memory_usage(&mut conn, &keys.guild_members(g)).await;
    let mut users = 0;
    for u in &members {
        users += memory_usage(&mut conn, &keys.user(*u)).await;
    }
    let mut guild_total = members_hash + users;
    for k in [
        keys.guild(g),
        keys.guild_state(g),
        keys.guild_channels(g),
        keys.guild_roles(g),
        keys.guild_emojis(g),
        keys.guild_voice_states(g),
        keys.user_refs(),
    ] {
        guild_total += memory_usage(&mut conn, &k).await;
    }
    let n = members.len() as f64;

    let text = serde_json::to_string(&large).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    let cache = twilight_cache_inmemory::DefaultInMemoryCache::builder()
        .resource_types(
            twilight_cache_inmemory::ResourceType::all()
                - twilight_cache_inmemory::ResourceType::PRESENCE,
        )
        .build();
    {
        let de =
            twilight_model::gateway::event::GatewayEventDeserializer::from_json(&text).unwrap();
        let mut json = serde_json::Deserializer::from_str(&text);
        let event = de.deserialize(&mut json).unwrap();
        cache.update(&twilight_model::gateway::event::Event::from(event));
    }
    let twilight = (LIVE.load(Ordering::Relaxed) - before) as f64;
    println!(
        "memory per member ({} members): Redis {:.0} B (member field + user key, MEMORY USAGE), {:.0} B whole guild / member; twilight-cache-inmemory {:.0} B whole guild / member (heap, presences off) = Redis {:.2}x twilight",
        members.len(),
        (members_hash + users) as f64 / n,
        guild_total as f64 / n,
        twilight / n,
        guild_total as f64 / twilight
    );
    drop(cache);
    let _: Bytes = Bytes::new();
}
