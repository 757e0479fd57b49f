//! Two bots on one broker and one Redis stay apart: two simulators, two ingest + state-worker
//! pairs with different `DDISCORD_TOPIC_ROOT` and `DDISCORD_KEY_PREFIX`; each cache equals its
//! own simulator's stream, no key lands outside the two prefixes, and no process logs a
//! durable session taken over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::delivery::Delivery;
use common::mesh::MeshObserver;
use common::sim::SimControl;
use common::{Harness, env, fixtures, free_addr, until};
use ddiscord_testkit::{Mosquitto, RedisServer};

struct Bot {
    root: &'static str,
    prefix: &'static str,
    sim: SimControl,
    observer: MeshObserver,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_on_one_broker_and_one_redis_stay_apart() {
    let redis = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let mut h = Harness::new();
    let mut bots = Vec::new();
    for (root, prefix, seed) in [("alpha", "alpha:", "11"), ("beta", "beta:", "12")] {
        let observer = MeshObserver::start(broker.port(), root).await;
        let sim = SimControl { addr: free_addr() };
        let p = h.spawn(
            &format!("{root}-sim"),
            &[
                "sim",
                "--bind",
                &sim.addr,
                "--shards",
                "1",
                "--guilds",
                "3",
                "--events-per-sec",
                "150",
                "--record-frames",
                "--seed",
                seed,
            ],
            &env([("DDISCORD_FIXTURES", fixtures().display().to_string())]),
        );
        h.wait_sim(p, &sim).await;
        let common_env = [
            ("DDISCORD_REDIS_URL", redis.url()),
            ("DDISCORD_MESH_URL", broker.url()),
            ("DDISCORD_TOPIC_ROOT", root.to_owned()),
            ("DDISCORD_KEY_PREFIX", prefix.to_owned()),
            ("DDISCORD_LEASE_TTL_MS", "2000".to_owned()),
            ("DDISCORD_LOG", "info".to_owned()),
        ];
        let mut worker_env = env(common_env.clone());
        worker_env.insert("DDISCORD_HTTP_ADDR".into(), free_addr());
        let w = h.spawn(&format!("{root}-worker"), &["state-worker"], &worker_env);
        // Healthy, not ready: it waits for the shard count its ingest records.
        h.wait_http_ok(w, "/healthz", Duration::from_secs(30)).await;
        let mut ingest_env = env(common_env);
        ingest_env.extend(env([
            ("DDISCORD_HTTP_ADDR", free_addr()),
            ("DDISCORD_GATEWAY_URL", sim.ws_url()),
            ("DISCORD_TOKEN", "sim-token".to_owned()),
            ("DDISCORD_IDENTIFY_RESERVE", "0".to_owned()),
        ]));
        h.spawn(&format!("{root}-ingest"), &["ingest"], &ingest_env);
        bots.push(Bot {
            root,
            prefix,
            sim,
            observer,
        });
    }

    // Traffic until each simulator has sent 600 dispatches, then stop it.
    for bot in &bots {
        let sim = bot.sim.clone();
        until(Duration::from_secs(60), || async {
            let s = sim.stats().await?;
            if s.events_sent >= 600 {
                Ok(())
            } else {
                Err(format!("{} sent", s.events_sent))
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", bot.root));
        bot.sim.set_rate(0.0).await;
    }
    h.note("both simulators sent 600 dispatches; traffic stopped");
    let conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();

    let mut failures = Vec::new();
    for bot in &bots {
        let record = bot.sim.record().await;
        let sent = record.events().len();
        let observer = &bot.observer;
        let since = Instant::now();
        let _ = until(Duration::from_secs(60), || async {
            let delivered = observer.state_count();
            if delivered >= sent || observer.quiet_for(since) > Duration::from_secs(5) {
                Ok(())
            } else {
                Err(format!("{delivered} of {sent}"))
            }
        })
        .await;
        let record = bot.sim.record().await;
        let frames = bot.sim.frames().await;
        let state = {
            let seen = bot.observer.seen.lock().unwrap();
            Delivery::compare(&format!("{}-state/#", bot.root), &record, &seen.state)
        };
        let cache = common::reference::compare(&frames, &conn, bot.prefix).await;
        eprintln!(
            "---- {} ----\n{state}\ncache vs its simulator: {cache}",
            bot.root
        );
        if !state.lost.is_empty() || !state.unknown.is_empty() {
            failures.push(format!("{}: {state}", bot.root));
        }
        if !cache.is_empty() {
            failures.push(format!(
                "{}: cache differs from its own stream: {cache}",
                bot.root
            ));
        }
    }

    // Every key belongs to one of the two bots.
    let mut c = conn.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .unwrap();
    let stray: Vec<&String> = keys
        .iter()
        .filter(|k| !bots.iter().any(|b| k.starts_with(b.prefix)))
        .collect();
    if !stray.is_empty() {
        failures.push(format!(
            "{} Redis keys outside both prefixes (first: {})",
            stray.len(),
            common::first(&stray, 5)
        ));
    }
    let takeovers = [
        h.log_lines_with("taken over"),
        h.log_lines_with("same name"),
    ]
    .concat();
    if !takeovers.is_empty() {
        failures.push(format!(
            "durable sessions taken over: {}",
            common::first(&takeovers, 5)
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
