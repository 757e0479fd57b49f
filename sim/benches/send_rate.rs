//! Sustained send rate of the simulator to one websocket connection over loopback.
//!
//! For each transport compression (none, `zlib-stream`, `zstd-stream`) the generated rate is
//! raised step by step; at each step a tokio-tungstenite client reads as fast as it can (without
//! decompressing) for a fixed window, and the step counts as sustained if the connection stayed
//! open and the client received at least 95 % of what was generated. Prints events/s and MB/s
//! (on the wire, after compression) for every step.
//!
//! Run with `cargo bench -p ddiscord-sim --bench send_rate`. Set `SEND_RATE_WINDOW_MS` to change
//! the measuring window (default 2000 ms).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use ddiscord_sim::{SimConfig, Simulator};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

struct Step {
    rate: f64,
    events: u64,
    bytes: u64,
    secs: f64,
    generated: u64,
    closed: bool,
}

async fn measure(query: &str, rate: f64, window: Duration) -> Step {
    let sim = Simulator::start(SimConfig {
        guilds: 8,
        events_per_sec: 0.0,
        record_limit: 0,
        resume_buffer: 200_000,
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
    // Let HELLO, READY and the GUILD_CREATEs through before measuring.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        if tokio::time::timeout(Duration::from_millis(50), ws.next())
            .await
            .is_err()
        {
            continue;
        }
    }
    sim.set_rate(rate);
    let g0 = sim.generated();
    let start = Instant::now();
    let (mut events, mut bytes, mut closed) = (0u64, 0u64, false);
    while start.elapsed() < window {
        match tokio::time::timeout(Duration::from_millis(100), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                events += 1;
                bytes += t.len() as u64;
            }
            Ok(Some(Ok(Message::Binary(b)))) => {
                events += 1;
                bytes += b.len() as u64;
            }
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                closed = true;
                break;
            }
            Ok(Some(Ok(_))) | Err(_) => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let generated = sim.generated() - g0;
    sim.shutdown().await;
    Step {
        rate,
        events,
        bytes,
        secs,
        generated,
        closed,
    }
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
    rt.block_on(async {
        println!(
            "mode          target/s   received/s   wire MB/s   avg B/event  generated  sustained"
        );
        for (name, query) in [
            ("none", "?v=10&encoding=json"),
            ("zlib-stream", "?v=10&encoding=json&compress=zlib-stream"),
            ("zstd-stream", "?v=10&encoding=json&compress=zstd-stream"),
        ] {
            let mut best: Option<(f64, f64)> = None;
            let mut rate = 10_000.0;
            while rate <= 1_280_000.0 {
                let s = measure(query, rate, window).await;
                let eps = s.events as f64 / s.secs;
                let mbps = s.bytes as f64 / s.secs / 1e6;
                let ok = !s.closed
                    && s.events as f64 >= 0.95 * s.generated as f64
                    && s.generated as f64 >= 0.9 * rate * s.secs;
                println!(
                    "{name:<12} {:>9.0} {eps:>12.0} {mbps:>11.1} {:>12.0} {:>10} {}",
                    s.rate,
                    s.bytes as f64 / s.events.max(1) as f64,
                    s.generated,
                    if ok {
                        "yes"
                    } else if s.closed {
                        "no (closed: fell behind)"
                    } else {
                        "no"
                    }
                );
                if ok {
                    best = Some((eps, mbps));
                    rate *= 2.0;
                } else {
                    break;
                }
            }
            match best {
                Some((eps, mbps)) => {
                    println!("=> {name}: sustained {eps:.0} events/s, {mbps:.1} MB/s on the wire\n")
                }
                None => println!("=> {name}: not sustained at the lowest step\n"),
            }
        }
    });
}
