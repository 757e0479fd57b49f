//! A burst through the real pipeline: a seeded stream of member, role and channel churn
//! replayed at full speed by `ddiscord sim --replay` into `ddiscord ingest` (publish window 16,
//! so it fills), a private Mosquitto with the shipped settings, `ddiscord state-worker` and a
//! private Redis, all separate processes.
//!
//! Checks (i) the dispatch tree carries each session's first transmissions in contiguous
//! sequence order, (ii) every dispatch the simulator sent reaches the state tree, and (iii) the
//! cache equals twilight-cache-inmemory fed the same dispatches, entity by entity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use common::delivery::Delivery;
use common::mesh::MeshObserver;
use common::sim::SimControl;
use common::{Harness, env, fixtures, free_addr, until};
use ddiscord_testkit::{Mosquitto, RedisServer};

const SEED: u64 = 20_240_917;
const GUILDS: u32 = 6;
const EVENTS: usize = 5_000;

/// The replayed stream: `EVENTS` dispatches of the simulator's traffic generator on the
/// simulator's own world (same fixtures, same guild count, so the guilds are the ones it serves).
fn stream(path: &std::path::Path) -> usize {
    let fixtures = ddiscord_sim::fixtures::Fixtures::load(&fixtures(), false).unwrap();
    let mut world = ddiscord_sim::world::World::build(&fixtures, GUILDS).unwrap();
    let mut traffic = ddiscord_sim::traffic::Traffic::new(SEED);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for _ in 0..EVENTS {
        let e = traffic.next_event(&mut world).unwrap();
        let frame = serde_json::json!({"op": 0, "t": e.name, "s": 0, "d": e.data});
        writeln!(out, "{frame}").unwrap();
    }
    out.flush().unwrap();
    EVENTS
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_publish_window_keeps_order_and_loses_nothing() {
    let redis = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let mut h = Harness::new();
    let replay = h.dir().join("burst.jsonl");
    let generated = stream(&replay);
    let observer = MeshObserver::start(broker.port(), "discord").await;

    // The worker first (it waits for the shard count ingest records; ingest creates the
    // group's sessions before its first publish).
    let worker = h.spawn(
        "state-worker",
        &["state-worker"],
        &env([
            ("DDISCORD_REDIS_URL", redis.url()),
            ("DDISCORD_MESH_URL", broker.url()),
            ("DDISCORD_HTTP_ADDR", free_addr()),
            ("DDISCORD_LEASE_TTL_MS", "2000".into()),
            ("DDISCORD_LOG", "info".into()),
        ]),
    );
    h.wait_http_ok(worker, "/healthz", Duration::from_secs(30))
        .await;

    let sim = SimControl { addr: free_addr() };
    let sim_proc = h.spawn(
        "sim",
        &[
            "sim",
            "--bind",
            &sim.addr,
            "--shards",
            "1",
            "--guilds",
            &GUILDS.to_string(),
            "--events-per-sec",
            "0",
            "--record-frames",
            "--replay",
            replay.to_str().unwrap(),
        ],
        &env([("DDISCORD_FIXTURES", fixtures().display().to_string())]),
    );
    h.wait_sim(sim_proc, &sim).await;

    let started = Instant::now();
    h.spawn(
        "ingest",
        &["ingest"],
        &env([
            ("DISCORD_TOKEN", "sim-token".to_owned()),
            ("DDISCORD_REDIS_URL", redis.url()),
            ("DDISCORD_MESH_URL", broker.url()),
            ("DDISCORD_GATEWAY_URL", sim.ws_url()),
            ("DDISCORD_HTTP_ADDR", free_addr()),
            ("DDISCORD_PUBLISH_WINDOW", "16".into()),
            ("DDISCORD_IDENTIFY_RESERVE", "0".into()),
            ("DDISCORD_LEASE_TTL_MS", "2000".into()),
            ("DDISCORD_LOG", "info".into()),
        ]),
    );

    // READY, one GUILD_CREATE per guild, then the replay.
    let expected = generated + 1 + GUILDS as usize;
    until(Duration::from_secs(60), || async {
        let s = sim.stats().await?;
        if s.events_sent as usize >= expected {
            Ok(())
        } else {
            Err(format!(
                "the simulator sent {} of {expected}",
                s.events_sent
            ))
        }
    })
    .await
    .unwrap();
    h.note("the simulator sent the whole stream");

    // Caught up: every sent dispatch on the state tree, or nothing more arriving for 5 s.
    let record = sim.record().await;
    let sent = record.events().len();
    let caught_up = until(Duration::from_secs(90), || async {
        let delivered = observer.state_count();
        let quiet = observer.quiet_for(started);
        // Caught up, or nothing more is coming (what is missing is lost).
        if delivered >= sent || quiet > Duration::from_secs(5) {
            Ok(())
        } else {
            Err(format!("{delivered} of {sent} on the state tree"))
        }
    })
    .await;
    let elapsed = started.elapsed();
    if let Err(e) = &caught_up {
        h.note(format!("the state tree did not catch up: {e}"));
    }
    // Let any straggler in before reading the cache: quiet for 1 s.
    let _ = until(Duration::from_secs(10), || async {
        (observer.quiet_for(started) > Duration::from_secs(1))
            .then_some(())
            .ok_or_else(|| "still receiving".to_owned())
    })
    .await;

    let record = sim.record().await;
    let frames = sim.frames().await;
    let (mesh, state) = {
        let seen = observer.seen.lock().unwrap();
        assert!(
            seen.malformed.is_empty(),
            "malformed envelopes: {:?}",
            seen.malformed
        );
        (
            Delivery::compare("dispatch tree discord/#", &record, &seen.dispatch),
            Delivery::compare("state tree discord-state/#", &record, &seen.state),
        )
    };
    let conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    let cache = common::reference::compare(&frames, &conn, "dd:").await;

    eprintln!("---- burst figures ----");
    eprintln!(
        "events sent {} (record dropped {}), frames {}, elapsed {:.1}s (ingest start to quiet)",
        record.events().len(),
        record.dropped,
        frames.len(),
        elapsed.as_secs_f64()
    );
    eprintln!("{mesh}");
    eprintln!("{state}");
    eprintln!("cache vs reference: {cache}");

    let window_full = h.log_lines_with("publish window full").len();
    eprintln!("ingest logged a full publish window {window_full} times");
    let mut failures = Vec::new();
    if window_full == 0 {
        failures.push(
            "the burst never filled ingest's publish window: the test proves nothing".to_owned(),
        );
    }
    if !state.misordered.is_empty() {
        failures.push(format!(
            "the state tree is not in sequence order per session: {state}"
        ));
    }
    if !mesh.misordered.is_empty() || !mesh.lost.is_empty() {
        failures.push(format!(
            "(i) the dispatch tree is not in contiguous order per session: {mesh}"
        ));
    }
    if !state.lost.is_empty() {
        failures.push(format!(
            "(ii) dispatches sent but never on the state tree: {state}"
        ));
    }
    if !cache.is_empty() {
        failures.push(format!(
            "(iii) the cache differs from the reference projection in {} entities: {cache}",
            cache.count()
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
