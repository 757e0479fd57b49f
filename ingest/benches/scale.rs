//! One ingest node as its shard count grows: CPU time per 1,000 dispatches and RSS per shard.
//!
//! `cargo bench -p ddiscord-ingest --bench scale` (run by `scripts/bench scale`, which plots
//! the CSV). Env: `SCALE_CSV` (default `docs/bench/ingest_shards.csv` under the workspace),
//! `SCALE_SHARDS` (default `1,4,16,32,64`), `SCALE_EVENTS` (dispatches per point, default
//! 100000), `SCALE_RUNS` (passes over the shard counts, default 1; each row says its pass).
//!
//! For each shard count N, in this process: the simulator (sim crate) serving N shards over
//! a real websocket, with `max_concurrency` N so that every shard identifies at once, and as
//! many small guilds as shards (at least 4); a private Mosquitto the node publishes to (no
//! subscriber, no consumer group); one private Redis (a fresh key prefix per point). The ingest
//! node is a child process (`ingest-node`, `DDISCORD_SHARDS=N`), so what is measured is its
//! own CPU time (utime + stime from `/proc/<pid>/stat`) and RSS (`VmRSS` from
//! `/proc/<pid>/status`), not the simulator's, the broker's or Redis's.
//!
//! The dispatches are generated and serialised before the node starts (the simulator's
//! traffic generator, seeded, over a world of the same guilds), spread round-robin over the
//! shards, and handed to the simulator as text (`SimHandle::dispatch_json`), so the
//! simulator's only work during the measurement is framing, compressing and sending. The clock
//! and the CPU counter start once every shard has published its READY and GUILD_CREATEs, right
//! before the dispatches are handed over, and stop when the node's
//! `ddiscord_ingest_events_out_total` (mesh acknowledgements, summed over shards, read from
//! its `/metrics` every 100 ms) has counted all of them. RSS is read at that start point
//! (`rss_idle`) and at the end (`rss`).
//!
//! The baseline measured in the same run is the first shard count: every later row is also
//! printed as a ratio to it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::cast_precision_loss
)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ddiscord_sim::fixtures::{self, Fixtures};
use ddiscord_sim::traffic::Traffic;
use ddiscord_sim::world::World;
use ddiscord_sim::{SimConfig, SimHandle, Simulator};
use ddiscord_testkit::bench::{cpu_seconds, env_or, rss_bytes, write_csv};
use ddiscord_testkit::{Mosquitto, RedisServer};

/// Dispatches acknowledged by the mesh, summed over the node's shards.
async fn events_out(http: u16) -> u64 {
    let Ok(text) = ddiscord_testkit::http_get(("127.0.0.1", http), "/metrics").await else {
        return 0;
    };
    text.lines()
        .filter(|l| l.starts_with("ddiscord_ingest_events_out_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Pre-serialised dispatches: (shard, name, guild, d as JSON text).
type Dispatches = Vec<(u32, &'static str, u64, String)>;

fn dispatches(guilds: u32, shards: u32, n: usize) -> Dispatches {
    let dir = fixtures::locate(Some(&ddiscord_testkit::fixtures_dir())).unwrap();
    let f = Fixtures::load(&dir, false).unwrap();
    let mut world = World::build(&f, guilds).unwrap();
    let mut traffic = Traffic::new(7);
    (0..n)
        .map(|i| {
            let ev = traffic.next_event(&mut world).unwrap();
            let shard = u32::try_from(i % shards as usize).unwrap();
            (shard, ev.name, ev.guild_id, ev.data.to_string())
        })
        .collect()
}

struct Point {
    run: u32,
    shards: u32,
    events: u64,
    secs: f64,
    cpu: f64,
    rss_idle: u64,
    rss: u64,
}

impl Point {
    fn cpu_ms_per_1k(&self) -> f64 {
        self.cpu / self.events as f64 * 1e6
    }
    fn rss_per_shard(&self) -> f64 {
        self.rss as f64 / f64::from(self.shards)
    }
}

struct Node {
    child: Child,
    http: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn start_node(sim: &SimHandle, shards: u32, redis: &RedisServer, broker: &Mosquitto) -> Node {
    let http = ddiscord_testkit::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ingest-node"))
        .env("DISCORD_TOKEN", "sim-token")
        .env("DDISCORD_REDIS_URL", redis.url())
        .env("DDISCORD_MESH_URL", broker.url())
        .env("DDISCORD_GATEWAY_URL", sim.ws_url())
        .env("DDISCORD_SHARDS", shards.to_string())
        .env("DDISCORD_KEY_PREFIX", format!("scale{shards}:"))
        .env("DDISCORD_TOPIC_ROOT", "discord")
        // No consumer group: the broker only acknowledges (an empty flag; an empty
        // environment variable would count as unset).
        .arg("--groups=")
        .env("DDISCORD_REQUEST_MEMBERS", "false")
        .env("DDISCORD_NODE_ID", "scale")
        .env("DDISCORD_IDENTIFY_RESERVE", "0")
        .env("DDISCORD_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Node { child, http }
}

/// Waits until `events_out` reaches `want` (or `limit` passes); returns the last count.
async fn wait_for(http: u16, want: u64, limit: Duration) -> u64 {
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let n = events_out(http).await;
        if n >= want || t0.elapsed() > limit {
            return n;
        }
    }
}

async fn point(
    run: u32,
    shards: u32,
    events: usize,
    redis: &RedisServer,
    broker: &Mosquitto,
) -> Point {
    let guilds = shards.max(4);
    let work = dispatches(guilds, shards, events);
    let sim = Simulator::start(SimConfig {
        shards,
        guilds,
        max_concurrency: shards,
        record_limit: 0,
        fixtures: Some(ddiscord_testkit::fixtures_dir()),
        resume_buffer: events + 1000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let node = start_node(&sim, shards, redis, broker);
    let pid = node.child.id();
    // READY per shard and one GUILD_CREATE per guild, all published.
    let startup = u64::from(shards + guilds);
    let got = wait_for(node.http, startup, Duration::from_secs(120)).await;
    assert!(
        got >= startup,
        "{shards} shards: only {got} of {startup} startup dispatches published"
    );
    let base = events_out(node.http).await;
    let rss_idle = rss_bytes(pid).unwrap();
    let cpu0 = cpu_seconds(pid).unwrap();
    let t0 = Instant::now();
    for (shard, name, guild, d) in &work {
        sim.dispatch_json(*shard, name, Some(*guild), d).unwrap();
    }
    let want = base + events as u64;
    let got = wait_for(node.http, want, Duration::from_secs(300)).await;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid).unwrap() - cpu0;
    let rss = rss_bytes(pid).unwrap();
    if got < want {
        println!(
            "WARNING: {shards} shards: only {} of {events} dispatches published within the time limit",
            got - base
        );
    }
    drop(node);
    sim.shutdown().await;
    Point {
        run,
        shards,
        events: got - base,
        secs,
        cpu,
        rss_idle,
        rss,
    }
}

fn csv_path() -> PathBuf {
    std::env::var_os("SCALE_CSV").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/bench/ingest_shards.csv"),
        PathBuf::from,
    )
}

fn main() {
    let shard_counts: Vec<u32> = std::env::var("SCALE_SHARDS")
        .unwrap_or_else(|_| "1,4,16,32,64".to_owned())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let events: usize = env_or("SCALE_EVENTS", 100_000);
    let runs: u32 = env_or("SCALE_RUNS", 1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let points = rt.block_on(async {
        let broker = Mosquitto::start_with(&["max_packet_size 67108864"]).unwrap();
        let redis = RedisServer::start().unwrap();
        let mut points: Vec<Point> = Vec::new();
        for run in 1..=runs {
            for &n in &shard_counts {
                let p = point(run, n, events, &redis, &broker).await;
                let first = points.iter().find(|q| q.run == run).unwrap_or(&p);
                println!(
                    "run {run}: {:>3} shards: {:>7.0} events/s, {:>6.1} CPU ms per 1,000 ({:.2}x first), RSS {:>6.1} MB = {:>7.1} kB per shard ({:.1} MB before the dispatches)",
                    p.shards,
                    p.events as f64 / p.secs,
                    p.cpu_ms_per_1k(),
                    p.cpu_ms_per_1k() / first.cpu_ms_per_1k(),
                    p.rss as f64 / 1e6,
                    p.rss_per_shard() / 1024.0,
                    p.rss_idle as f64 / 1e6,
                );
                points.push(p);
            }
        }
        points
    });
    let mut csv = String::from(
        "run,shards,events,seconds,events_per_s,cpu_seconds,cpu_ms_per_1k_events,rss_idle_bytes,rss_bytes,rss_per_shard_bytes\n",
    );
    for p in &points {
        writeln!(
            csv,
            "{},{},{},{:.3},{:.0},{:.3},{:.2},{},{},{:.0}",
            p.run,
            p.shards,
            p.events,
            p.secs,
            p.events as f64 / p.secs,
            p.cpu,
            p.cpu_ms_per_1k(),
            p.rss_idle,
            p.rss,
            p.rss_per_shard()
        )
        .unwrap();
    }
    write_csv(&csv_path(), &csv).unwrap();
}
