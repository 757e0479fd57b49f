//! Ingest throughput: simulator → ingest node → Mosquitto, beside two baselines on the same
//! frames measured in the same run:
//!
//! - **raw loop**: zlib-stream decompress, lazy scan (`FrameHead` + guild id), topic + envelope,
//!   publish QoS 1 with a bare rumqttc client, all PUBACKs awaited;
//! - **typical twilight bot**: deserialise `twilight_model::gateway::event::Event` and update
//!   `twilight_cache_inmemory::InMemoryCache` (no publishing at all).
//!
//! All three time the same work from the same starting point:
//!
//! - **same frames**: the `BENCH_EVENTS` generated dispatches, byte for byte the frames the
//!   simulator sends the ingest node (same payload text, same sequences: the corpus numbers
//!   them after READY and the GUILD_CREATEs, as the simulator's session does);
//! - **same starting point**: the GUILD_CREATEs that come first are processed by every side
//!   before its clock and CPU counter start (the raw loop decompresses and publishes them and
//!   waits for their PUBACKs, so its zlib context is in the same state as the node's; the
//!   twilight bot caches them; the node has published READY and every GUILD_CREATE); the
//!   dispatches are handed to the simulator as pre-serialised text
//!   (`SimHandle::dispatch_json`), so no serialising happens after the clock starts;
//! - **same parsing**: the raw loop does the node's own per-frame work (the `FrameHead` scan,
//!   guild id, topic, envelope, QoS 1 publish, every PUBACK awaited), the node additionally
//!   does what the ratio is meant to show: websocket framing and twilight's shard loop;
//! - **same broker work**: the node registers no consumer group (`--groups=`), so the broker
//!   acknowledges and forwards to one plain subscriber (which counts what arrived) for the
//!   node, and acknowledges only for the raw loop.
//!
//! The ingest node runs as a child process (`ingest-node`), so its CPU time (from
//! `/proc/<pid>/stat`) excludes the simulator and the broker. Baselines run in this process,
//! on one thread; their CPU time is this process's.
//!
//! `cargo bench -p ddiscord-ingest --bench throughput` (env `BENCH_EVENTS`, default 100000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::cast_precision_loss
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ddiscord::envelope::{EnvelopeMeta, wrap};
use ddiscord::{FrameHead, Topics};
use ddiscord_sim::fixtures::{self, Fixtures};
use ddiscord_sim::traffic::Traffic;
use ddiscord_sim::world::World;
use ddiscord_sim::{SimConfig, Simulator};
use ddiscord_testkit::bench::cpu_seconds;
use ddiscord_testkit::{Mosquitto, RedisServer};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde::de::DeserializeSeed;
use twilight_cache_inmemory::{DefaultInMemoryCache, ResourceType};
use twilight_model::gateway::event::GatewayEventDeserializer;

struct Frames {
    /// GUILD_CREATE frames for the world's guilds, then `n` generated dispatches.
    frames: Vec<String>,
    /// How many of `frames` are the GUILD_CREATEs that come first (not timed).
    prefix: usize,
    /// The generated dispatches (name, guild, d as JSON text), for the simulator to send.
    generated: Vec<(String, u64, String)>,
}

fn corpus(n: usize) -> Frames {
    let dir = fixtures::locate(Some(&ddiscord_testkit::fixtures_dir())).unwrap();
    let f = Fixtures::load(&dir, false).unwrap();
    let mut world = World::build(&f, 4).unwrap();
    let mut frames = Vec::new();
    // Sequence 1 is the session's READY (not in the corpus), as in the simulator.
    let mut seq = 1u64;
    for g in &world.guilds {
        seq += 1;
        frames.push(format!(
            r#"{{"op":0,"s":{seq},"t":"GUILD_CREATE","d":{}}}"#,
            g.guild_create(true)
        ));
    }
    let mut traffic = Traffic::new(7);
    let mut generated = Vec::with_capacity(n);
    for _ in 0..n {
        let ev = traffic.next_event(&mut world).unwrap();
        seq += 1;
        let d = ev.data.to_string();
        frames.push(format!(r#"{{"op":0,"s":{seq},"t":"{}","d":{d}}}"#, ev.name));
        generated.push((ev.name.to_owned(), ev.guild_id, d));
    }
    Frames {
        prefix: frames.len() - n,
        frames,
        generated,
    }
}

/// zlib-stream as Discord sends it: one context, a sync flush after every message.
fn compress(frames: &[String]) -> Vec<Vec<u8>> {
    let mut c = Compress::new(Compression::default(), true);
    frames
        .iter()
        .map(|f| {
            let mut out = Vec::with_capacity(f.len() + 64);
            let mut input = f.as_bytes();
            loop {
                let before_in = c.total_in();
                c.compress_vec(input, &mut out, FlushCompress::Sync)
                    .unwrap();
                let used = (c.total_in() - before_in) as usize;
                input = &input[used..];
                if input.is_empty() && out.len() < out.capacity() {
                    break;
                }
                out.reserve(out.capacity().max(1024));
            }
            out
        })
        .collect()
}

/// Decompresses one zlib-stream message into `buf` (cleared first).
fn inflate(d: &mut Decompress, msg: &[u8], buf: &mut Vec<u8>) {
    buf.clear();
    let mut input = msg;
    loop {
        let before = d.total_in();
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(buf.capacity().max(4096));
        }
        d.decompress_vec(input, buf, FlushDecompress::Sync).unwrap();
        input = &input[(d.total_in() - before) as usize..];
        if input.is_empty() && buf.len() < buf.capacity() {
            break;
        }
    }
}

/// The raw loop over `compressed`: the first `prefix` messages before the clock starts (their
/// PUBACKs awaited), the rest timed.
async fn raw_loop(compressed: &[Vec<u8>], prefix: usize, broker: &str) -> (f64, f64) {
    let port: u16 = broker.rsplit(':').next().unwrap().parse().unwrap();
    let mut opts = MqttOptions::new("bench-raw", "127.0.0.1", port);
    opts.set_max_packet_size(64 << 20, 64 << 20);
    opts.set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    let (acked_tx, mut acked) = tokio::sync::watch::channel(0usize);
    let acks = tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    n += 1;
                    if acked_tx.send(n).is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(Outgoing::Publish(_)) | _) => {}
                Err(e) => panic!("raw baseline mqtt: {e}"),
            }
        }
    });
    let topics = Topics::default();
    let mut d = Decompress::new(true);
    let mut buf = Vec::with_capacity(1 << 20);
    let mut cpu0 = cpu_seconds(std::process::id()).unwrap();
    let mut t0 = Instant::now();
    for (i, msg) in compressed.iter().enumerate() {
        if i == prefix {
            acked.wait_for(|n| *n >= prefix).await.unwrap();
            cpu0 = cpu_seconds(std::process::id()).unwrap();
            t0 = Instant::now();
        }
        inflate(&mut d, msg, &mut buf);
        let head = FrameHead::parse(&buf).unwrap();
        let guild = head.guild_id().unwrap();
        let topic = topics
            .dispatch(0, guild, head.t.as_deref().unwrap())
            .unwrap();
        let meta = EnvelopeMeta {
            shard: 0,
            session: Some("bench"),
            received_ms: 0,
        };
        let payload = wrap(&meta, &buf).unwrap();
        client
            .publish_bytes(topic.as_str(), QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    acked.wait_for(|n| *n >= compressed.len()).await.unwrap();
    let out = (
        t0.elapsed().as_secs_f64(),
        cpu_seconds(std::process::id()).unwrap() - cpu0,
    );
    acks.abort();
    out
}

/// The twilight bot over `frames`: the first `prefix` cached before the clock starts, the
/// rest timed.
fn twilight_bot(frames: &[String], prefix: usize) -> (f64, f64) {
    let cache = DefaultInMemoryCache::builder()
        .resource_types(ResourceType::all())
        .build();
    let mut cpu0 = cpu_seconds(std::process::id()).unwrap();
    let mut t0 = Instant::now();
    let mut failed: std::collections::BTreeMap<String, (usize, String)> = Default::default();
    for (i, f) in frames.iter().enumerate() {
        if i == prefix {
            cpu0 = cpu_seconds(std::process::id()).unwrap();
            t0 = Instant::now();
        }
        let Some(de) = GatewayEventDeserializer::from_json(f) else {
            failed.entry("<no head>".into()).or_default().0 += 1;
            continue;
        };
        let name = de.event_type().unwrap_or("?").to_owned();
        let mut json = serde_json::Deserializer::from_str(f);
        match de.deserialize(&mut json) {
            Ok(ev) => {
                let ev: twilight_model::gateway::event::Event = ev.into();
                cache.update(&ev);
            }
            Err(e) => {
                let entry = failed.entry(name).or_default();
                entry.0 += 1;
                if entry.1.is_empty() {
                    entry.1 = e.to_string();
                }
            }
        }
    }
    for (name, (n, first)) in &failed {
        println!("twilight baseline: {n} {name} frames did not deserialise (first error: {first})");
    }
    (
        t0.elapsed().as_secs_f64(),
        cpu_seconds(std::process::id()).unwrap() - cpu0,
    )
}

async fn ingest(frames: &Frames, redis: &RedisServer, broker: &Mosquitto) -> (f64, f64, usize) {
    let sim = Simulator::start(SimConfig {
        shards: 1,
        guilds: 4,
        record_limit: 0,
        fixtures: Some(ddiscord_testkit::fixtures_dir()),
        resume_buffer: 1_000_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let http = ddiscord_testkit::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ingest-node"))
        .env("DISCORD_TOKEN", "sim-token")
        .env("DDISCORD_REDIS_URL", redis.url())
        .env("DDISCORD_MESH_URL", broker.url())
        .env("DDISCORD_GATEWAY_URL", sim.ws_url())
        .env("DDISCORD_NODE_ID", "bench")
        .env("DDISCORD_IDENTIFY_RESERVE", "0")
        .env("DDISCORD_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("RUST_LOG", "warn")
        .arg("--groups=")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Count what reaches the broker with a plain subscriber.
    let port = broker.port();
    let mut opts = MqttOptions::new("bench-sub", "127.0.0.1", port);
    opts.set_max_packet_size(64 << 20, 64 << 20);
    let (sub, mut el) = AsyncClient::new(opts, 10_000);
    sub.subscribe("discord/#", QoS::AtMostOnce).await.unwrap();
    let (tx, mut rx) = tokio::sync::watch::channel(0usize);
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    n += 1;
                    let _ = tx.send(n);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    // Wait for READY + GUILD_CREATEs to arrive (the shard is connected).
    let start = Instant::now();
    while *rx.borrow() < 5 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "ingest node never connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let base = *rx.borrow();
    let want = base + frames.generated.len();
    let cpu0 = cpu_seconds(pid).unwrap();
    let t0 = Instant::now();
    for (name, guild, d) in &frames.generated {
        sim.dispatch_json(0, name, Some(*guild), d).unwrap();
    }
    while *rx.borrow() < want {
        if t0.elapsed() > Duration::from_secs(300) {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid).unwrap() - cpu0;
    let got = *rx.borrow() - base;
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    sim.shutdown().await;
    (elapsed, cpu, got)
}

fn main() {
    let n: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let frames = corpus(n);
        let bytes: usize = frames.frames.iter().map(String::len).sum();
        println!(
            "corpus: {} frames ({} generated dispatches after {} GUILD_CREATEs), {:.1} MB of JSON",
            frames.frames.len(),
            n,
            frames.frames.len() - n,
            bytes as f64 / 1e6
        );
        let compressed = compress(&frames.frames);
        let broker = Mosquitto::start_with(&["max_packet_size 67108864"]).unwrap();
        let redis = RedisServer::start().unwrap();

        let (raw_t, raw_cpu) = raw_loop(&compressed, frames.prefix, &broker.url()).await;
        let (tw_t, tw_cpu) = twilight_bot(&frames.frames, frames.prefix);
        let (in_t, in_cpu, got) = ingest(&frames, &redis, &broker).await;

        // Every side timed the same `n` generated dispatches.
        let m = n as f64;
        let row = |name: &str, t: f64, cpu: f64, count: f64| {
            println!(
                "{name:<28} {:>10.0} events/s   {:>7.2} CPU s per million events   ({count:.0} events in {t:.2} s, {cpu:.2} CPU s)",
                count / t,
                cpu / count * 1e6
            );
        };
        row("raw loop (baseline)", raw_t, raw_cpu, m);
        row("twilight Event + cache", tw_t, tw_cpu, m);
        row("ingest node (sim → mesh)", in_t, in_cpu, got as f64);
        if got < n {
            println!("WARNING: only {got} of {n} dispatches reached the broker within the time limit");
        }
        let in_rate = got as f64 / in_t;
        let in_cpu_m = in_cpu / got.max(1) as f64 * 1e6;
        println!(
            "ratios: ingest/raw throughput {:.2}x, CPU per event {:.2}x; ingest/twilight-bot throughput {:.2}x, CPU per event {:.2}x",
            in_rate / (m / raw_t),
            in_cpu_m / (raw_cpu / m * 1e6),
            in_rate / (m / tw_t),
            in_cpu_m / (tw_cpu / m * 1e6),
        );
    });
}
