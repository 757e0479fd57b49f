//! REST requests per second through the shared limiter (`ddiscord::rest::Rest`: two Lua scripts
//! in Redis around every request) beside twilight-http alone in one process, against the
//! simulator with its REST limits off. Neither caps the rate: twilight-http runs without its
//! in-process limiter (whose global 50 per second would be the figure), the shared limiter with
//! its global limit raised out of the way, so the figures are the cost of each path.
//!
//! Same requests (`GET /channels/{id}` round robin over the simulator's text channels), same
//! concurrency, same starting point (a fresh simulator and a fresh Redis for each). Run with
//! `cargo bench -p ddiscord --bench rest`; `REST_BENCH_REQUESTS` (default 3000) and
//! `REST_BENCH_CONCURRENCY` (default 16) change the load.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ddiscord::rest::{Rest, RestConfig};
use ddiscord_sim::{RestLimitConfig, SimConfig, SimHandle, Simulator};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn sim() -> SimHandle {
    Simulator::start(SimConfig {
        guilds: 8,
        record_limit: 0,
        rest_limits: RestLimitConfig {
            enabled: false,
            ..RestLimitConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

async fn channels(rest: &Rest, sim: &SimHandle) -> Vec<u64> {
    let mut out = Vec::new();
    for g in sim.guilds_of_shard(0) {
        let list: serde_json::Value =
            serde_json::from_slice(&rest.get_guild_channels(g).await.unwrap()).unwrap();
        for c in list.as_array().unwrap() {
            if c["type"] == 0 {
                out.push(c["id"].as_str().unwrap().parse().unwrap());
            }
        }
    }
    out
}

/// Runs `n` requests with `concurrency` tasks; returns requests per second.
async fn drive<F, Fut>(n: usize, concurrency: usize, one: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let one = Arc::new(one);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = Arc::clone(&next);
            let one = Arc::clone(&one);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    one(i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let n = env("REST_BENCH_REQUESTS", 3000);
        let concurrency = env("REST_BENCH_CONCURRENCY", 16);

        // twilight-http alone, in one process.
        let sim_a = sim().await;
        let redis_a = ddiscord_testkit::RedisServer::start().unwrap();
        let list = {
            let conn =
                redis::aio::ConnectionManager::new(redis::Client::open(redis_a.url()).unwrap())
                    .await
                    .unwrap();
            let mut cfg = RestConfig::new("sim-token");
            cfg.base_url = Some(sim_a.http_url());
            channels(&Rest::new(&cfg, conn, "bench-setup:").unwrap(), &sim_a).await
        };
        let http = Arc::new(
            twilight_http::Client::builder()
                .token("sim-token".to_owned())
                .proxy(sim_a.addr().to_string(), true)
                .ratelimiter(None)
                .build(),
        );
        let ids = Arc::new(list.clone());
        let twilight = drive(n, concurrency, move |i| {
            let http = Arc::clone(&http);
            let ids = Arc::clone(&ids);
            async move {
                let id = twilight_model::id::Id::new(ids[i % ids.len()]);
                http.channel(id).await.unwrap().bytes().await.unwrap();
            }
        })
        .await;
        drop(sim_a);

        // The shared limiter, from the same starting point.
        let sim_b = sim().await;
        let redis_b = ddiscord_testkit::RedisServer::start().unwrap();
        let conn = redis::aio::ConnectionManager::new(redis::Client::open(redis_b.url()).unwrap())
            .await
            .unwrap();
        let mut cfg = RestConfig::new("sim-token");
        cfg.base_url = Some(sim_b.http_url());
        // No global cap in the way of the measurement: the simulator limits nothing.
        cfg.limits.global_limit = u32::MAX;
        let rest = Rest::new(&cfg, conn, "dd:").unwrap();
        let list = channels(&rest, &sim_b).await;
        let ids = Arc::new(list);
        let shared = drive(n, concurrency, move |i| {
            let rest = rest.clone();
            let ids = Arc::clone(&ids);
            async move {
                rest.get_channel(ids[i % ids.len()]).await.unwrap();
            }
        })
        .await;
        drop(sim_b);
        drop(redis_a);

        println!(
            "REST GET /channels/{{id}}, {n} requests, {concurrency} at once, simulator limits off"
        );
        println!("  twilight-http alone:        {twilight:>8.0} req/s");
        println!("  shared limiter (Redis):     {shared:>8.0} req/s");
        println!("  ratio shared / twilight:    {:>8.2}", shared / twilight);
    });
}
