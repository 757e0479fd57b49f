//! Sustained send rate of the simulator to one websocket connection over loopback.
//!
//! Three figures per transport compression (none, `zlib-stream`, `zstd-stream`):
//! - generated traffic: the generated rate is raised step by step (x1.5); at each step a
//!   tokio-tungstenite client reads as fast as it can (without decompressing) for a fixed window,
//!   and the step counts as sustained if the connection stayed open, the generator kept up and
//!   the client received at least 95 % of what was generated;
//! - send path alone: pre-serialised generated payloads are pushed into the session as fast as
//!   the client keeps up (at most 20,000 in flight), so the generator is not the limit.
//!
//! Also prints the generator's own speed. Events/s and MB/s are on the wire (after compression).
//! Run with `cargo bench -p ddiscord-sim --bench send_rate`; `SEND_RATE_WINDOW_MS` sets the
//! measuring window (default 2000 ms).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ddiscord_sim::{SimConfig, SimHandle, Simulator};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Step {
    events: u64,
    bytes: u64,
    secs: f64,
    generated: u64,
    closed: bool,
}

async fn connect(query: &str, resume_buffer: usize) -> (SimHandle, Ws) {
    let sim = Simulator::start(SimConfig {
        guilds: 8,
        events_per_sec: 0.0,
        record_limit: 0,
        resume_buffer,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (mut ws, _) = connect_async(format!("{}/{query}", sim.ws_url()))
        .await
        .unwrap();
    let identify = serde_json::json!({"op": 2, "d": {"token": "sim-token", "intents": 0x1_ffff,
        "properties": {"os": "linux", "browser": "bench", "device": "bench"}, "shard": [0, 1]}});
    ws.send(Message::text(identify.to_string())).await.unwrap();
    (sim, ws)
}

fn payload_len(m: &Message) -> Option<usize> {
    match m {
        Message::Text(t) => Some(t.len()),
        Message::Binary(b) => Some(b.len()),
        _ => None,
    }
}

async fn measure(query: &str, rate: f64, window: Duration) -> Step {
    let (sim, mut ws) = connect(query, 200_000).await;
    // Let HELLO, READY and the GUILD_CREATEs through before measuring.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        let _ = tokio::time::timeout(Duration::from_millis(50), ws.next()).await;
    }
    sim.set_rate(rate);
    let g0 = sim.generated();
    let start = Instant::now();
    let (mut events, mut bytes, mut closed) = (0u64, 0u64, false);
    while start.elapsed() < window {
        match tokio::time::timeout(Duration::from_millis(100), ws.next()).await {
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                closed = true;
                break;
            }
            Ok(Some(Ok(m))) => {
                if let Some(len) = payload_len(&m) {
                    events += 1;
                    bytes += len as u64;
                }
            }
            Err(_) => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let generated = sim.generated() - g0;
    sim.shutdown().await;
    Step {
        events,
        bytes,
        secs,
        generated,
        closed,
    }
}

async fn measure_send_path(
    query: &str,
    payloads: &[(&'static str, u64, String)],
    window: Duration,
) -> (f64, f64) {
    const AHEAD: u64 = 20_000;
    let (sim, mut ws) = connect(query, 2 * AHEAD as usize).await;
    let received = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let (r2, b2) = (Arc::clone(&received), Arc::clone(&bytes));
    let reader = tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if let Some(len) = payload_len(&m) {
                r2.fetch_add(1, Ordering::Relaxed);
                b2.fetch_add(len as u64, Ordering::Relaxed);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (r0, b0) = (
        received.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed),
    );
    let start = Instant::now();
    let (mut pushed, mut i) = (0u64, 0usize);
    while start.elapsed() < window {
        let got = received.load(Ordering::Relaxed) - r0;
        if pushed.saturating_sub(got) < AHEAD {
            for _ in 0..500 {
                let (name, gid, d) = &payloads[i % payloads.len()];
                sim.dispatch_json(0, name, Some(*gid), d).unwrap();
                i += 1;
                pushed += 1;
            }
        } else {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let ev = (received.load(Ordering::Relaxed) - r0) as f64 / secs;
    let mb = (bytes.load(Ordering::Relaxed) - b0) as f64 / secs / 1e6;
    reader.abort();
    sim.shutdown().await;
    (ev, mb)
}

fn generator_alone() -> Vec<(&'static str, u64, String)> {
    let dir = ddiscord_sim::fixtures::locate(None).unwrap();
    let f = ddiscord_sim::fixtures::Fixtures::load(&dir, false).unwrap();
    let mut world = ddiscord_sim::world::World::build(&f, 8).unwrap();
    let mut t = ddiscord_sim::traffic::Traffic::new(1);
    let n = 200_000u64;
    let mut payloads = Vec::new();
    let (start, mut bytes) = (Instant::now(), 0usize);
    for _ in 0..n {
        let e = t.next_event(&mut world).unwrap();
        let d = e.data.to_string();
        bytes += d.len();
        if payloads.len() < 50_000 {
            payloads.push((e.name, e.guild_id, d));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "generator alone: {:.0} events/s, {:.1} MB/s of JSON ({n} events)\n",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    payloads
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let window = Duration::from_millis(
        std::env::var("SEND_RATE_WINDOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
    );
    let payloads = generator_alone();
    rt.block_on(async {
        println!(
            "mode          target/s   received/s   wire MB/s  avg B/event  generated  sustained"
        );
        for (name, query) in [
            ("none", "?v=10&encoding=json"),
            ("zlib-stream", "?v=10&encoding=json&compress=zlib-stream"),
            ("zstd-stream", "?v=10&encoding=json&compress=zstd-stream"),
        ] {
            let mut best: Option<(f64, f64)> = None;
            let mut rate = 10_000.0;
            while rate <= 1_000_000.0 {
                let s = measure(query, rate, window).await;
                let eps = s.events as f64 / s.secs;
                let mbps = s.bytes as f64 / s.secs / 1e6;
                let ok = !s.closed
                    && s.events as f64 >= 0.95 * s.generated as f64
                    && s.generated as f64 >= 0.9 * rate * s.secs;
                let verdict = if ok {
                    "yes"
                } else if s.closed {
                    "no (closed: fell behind)"
                } else {
                    "no"
                };
                println!(
                    "{name:<12} {rate:>9.0} {eps:>12.0} {mbps:>11.1} {:>12.0} {:>10} {verdict}",
                    s.bytes as f64 / s.events.max(1) as f64,
                    s.generated,
                );
                if !ok {
                    break;
                }
                best = Some((eps, mbps));
                rate *= 1.5;
            }
            match best {
                Some((eps, mbps)) => println!(
                    "=> {name}: generated traffic sustained {eps:.0} events/s, {mbps:.1} MB/s"
                ),
                None => println!("=> {name}: generated traffic not sustained at 10000 events/s"),
            }
            let (eps, mbps) = measure_send_path(query, &payloads, window).await;
            println!("=> {name}: send path alone {eps:.0} events/s, {mbps:.1} MB/s\n");
        }
    });
}
