#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A real child process as one of the nodes: `kill -9` and SIGSTOP.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Collector, Env, TOKEN, assert_no_gap, env, until};
use redis::aio::ConnectionManager;

fn spawn_node(env: &Env, node: &str, http_port: u16, ttl_ms: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ingest-node"))
        .env("DISCORD_TOKEN", TOKEN)
        .env("DDISCORD_REDIS_URL", env.redis.url())
        .env("DDISCORD_MESH_URL", env.broker.url())
        .env("DDISCORD_GATEWAY_URL", env.sim.ws_url())
        .env("DDISCORD_NODE_ID", node)
        .env("DDISCORD_LEASE_TTL_MS", ttl_ms.to_string())
        .env("DDISCORD_IDENTIFY_RESERVE", "0")
        .env("DDISCORD_SESSION_PERSIST_MS", "200")
        .env("DDISCORD_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

/// Lease owner per shard.
async fn owners(redis: &mut ConnectionManager, shards: u32) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for p in 0..shards {
        let o: Option<String> = redis::cmd("HGET")
            .arg(format!("dd:lease:ingest:{p}"))
            .arg("owner")
            .query_async(redis)
            .await
            .unwrap();
        out.push(o);
    }
    out
}

async fn count_owned(redis: &mut ConnectionManager, shards: u32, node: &str) -> usize {
    owners(redis, shards)
        .await
        .iter()
        .filter(|o| o.as_deref() == Some(node))
        .count()
}

/// The whole HTTP/1.0 response to `GET path`.
async fn get(port: u16, path: &str) -> String {
    ddiscord_testkit::http_get(("127.0.0.1", port), path)
        .await
        .unwrap()
}

/// `ddiscord_ingest_events_out_total` per shard from a node's `/metrics`.
async fn events_out(port: u16) -> BTreeMap<String, u64> {
    let body = get(port, "/metrics").await;
    let mut out = BTreeMap::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("ddiscord_ingest_events_out_total{shard=\"") {
            let (shard, value) = rest.split_once("\"} ").unwrap();
            out.insert(
                shard.to_owned(),
                value.trim().parse::<f64>().unwrap() as u64,
            );
        }
    }
    out
}

async fn redis_conn(env: &Env) -> ConnectionManager {
    ConnectionManager::new(redis::Client::open(env.redis.url()).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_process_is_resumed_by_the_other_node() {
    let env = env(8, 200.0).await;
    let mesh = env.mesh().await;
    let collector = Collector::start(&mesh, "discord/>").await;
    let mut redis = redis_conn(&env).await;
    let mut child = spawn_node(&env, "child", ddiscord_testkit::free_port(), 1500);
    // Let the child take everything first, then split with an in-process node.
    let mut deadline = 0;
    while count_owned(&mut redis, 8, "child").await < 8 {
        deadline += 1;
        assert!(deadline < 400, "child never took the shards");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let b = env.node("b").await;
    until(20, "4/4 split, every shard connected", || {
        b.held().len() == 4 && env.all_shards_connected()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = env.identifies();
    let resumes = env.resumes();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    until(20, "b holds all 8 and resumed the child's shards", || {
        b.held().len() == 8 && env.resumes() >= resumes + 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.identifies(), before, "no new IDENTIFY after kill -9");
    assert_no_gap(&env, &collector, 20).await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_paused_past_its_lease_publishes_nothing_for_lost_shards() {
    let env = env(4, 100.0).await;
    let mut redis = redis_conn(&env).await;
    let port = ddiscord_testkit::free_port();
    let mut child = spawn_node(&env, "paused", port, 3000);
    let mut deadline = 0;
    while count_owned(&mut redis, 4, "paused").await < 4 {
        deadline += 1;
        assert!(deadline < 400, "child never took the shards");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut cfg = env.node_config("b");
    cfg.lease_ttl = Duration::from_millis(3000);
    let b = ddiscord_ingest::IngestNode::start(cfg).await.unwrap();
    until(20, "2/2 split and every shard connected", || {
        b.held().len() == 2 && env.all_shards_connected()
    })
    .await;
    let child_shards: Vec<String> = owners(&mut redis, 4)
        .await
        .iter()
        .enumerate()
        .filter(|(_, o)| o.as_deref() == Some("paused"))
        .map(|(i, _)| i.to_string())
        .collect();
    // Quiesce, read the child's counters, pause it, then send traffic it cannot read.
    env.sim.set_rate(0.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = events_out(port).await;
    for shard in &child_shards {
        assert!(
            before.get(shard).is_some_and(|n| *n > 0),
            "the child published for shard {shard} before the pause: {before:?}"
        );
    }
    signal(&child, "-STOP");
    env.sim.set_rate(200.0);
    until(20, "b took the paused node's shards", || {
        b.held().len() == 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    signal(&child, "-CONT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = events_out(port).await;
    for shard in &child_shards {
        assert_eq!(
            before.get(shard),
            after.get(shard),
            "paused node published for shard {shard} after losing it"
        );
    }
    // Its sessions were not overwritten either: the sessions are b's.
    for shard in &child_shards {
        let node: Option<String> = redis::cmd("HGET")
            .arg(format!("dd:session:{shard}"))
            .arg("node")
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(node.as_deref(), Some("b"), "session of shard {shard}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_restart_of_a_process_costs_no_identify() {
    let env = env(2, 100.0).await;
    let mesh = env.mesh().await;
    let collector = Collector::start(&mesh, "discord/>").await;
    let mut redis = redis_conn(&env).await;
    let http = ddiscord_testkit::free_port();
    let mut first = spawn_node(&env, "first", http, 1500);
    until(20, "both shards identified", || {
        env.sim.record().shards.iter().all(|s| s.identifies == 1)
    })
    .await;
    let mut deadline = 0;
    while count_owned(&mut redis, 2, "first").await < 2 {
        deadline += 1;
        assert!(deadline < 400, "first node never took the shards");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(get(http, "/healthz").await.starts_with("HTTP/1.0 200"));
    assert!(get(http, "/readyz").await.starts_with("HTTP/1.0 200"));
    let metrics = get(http, "/metrics").await;
    assert!(
        metrics.contains("ddiscord_ingest_shards_held 2"),
        "{metrics}"
    );
    assert!(metrics.contains("ddiscord_ingest_identifies_total{shard=\"0\"} 1"));
    let resumes = env.resumes();
    // SIGTERM: drain, persist, close 4000, release; exit code 0.
    signal(&first, "-TERM");
    let status = tokio::task::spawn_blocking(move || first.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "ingest-node exited with {status}");
    // Released at once: no owner left.
    assert_eq!(owners(&mut redis, 2).await, vec![None, None]);
    let mut second = spawn_node(&env, "second", ddiscord_testkit::free_port(), 1500);
    until(20, "the new process resumed both shards", || {
        env.resumes() >= resumes + 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.identifies(), vec![1, 1], "a restart costs no IDENTIFY");
    assert_no_gap(&env, &collector, 20).await;
    signal(&second, "-TERM");
    let _ = tokio::task::spawn_blocking(move || second.wait()).await;
}

/// A node killed after a new session's READY but before the broker acknowledged anything of it
/// (the broker is paused): the session was persisted at READY with sequence 0, so the next
/// owner RESUMEs it and the simulator replays it from the start: its READY and GUILD_CREATE
/// reach the mesh, no IDENTIFY is spent, and the older session is not resumed instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_killed_before_its_first_ack_is_resumed_from_its_start() {
    let env = env(1, 20.0).await;
    let mesh = env.mesh().await;
    let collector = Collector::start(&mesh, "discord/>").await;
    let mut redis = redis_conn(&env).await;
    let mut child = spawn_node(&env, "child", ddiscord_testkit::free_port(), 1500);
    let stored = |redis: &mut ConnectionManager| {
        let mut r = redis.clone();
        async move {
            let (id, seq): (Option<String>, Option<u64>) = redis::cmd("HMGET")
                .arg("dd:session:0")
                .arg("session_id")
                .arg("sequence")
                .query_async(&mut r)
                .await
                .unwrap();
            id.zip(seq)
        }
    };
    // The first session is on the mesh and persisted.
    let mut first = None;
    for _ in 0..400 {
        if let Some((id, seq)) = stored(&mut redis).await
            && seq > 0
        {
            first = Some(id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let first = first.expect("the first session was never persisted");
    // Nothing more is acknowledged from now on; a new session starts.
    let broker_pid = env.broker.pid().unwrap().to_string();
    let stop = |sig: &str| {
        assert!(
            Command::new("kill")
                .args([sig, &broker_pid])
                .status()
                .unwrap()
                .success()
        );
    };
    stop("-STOP");
    env.sim.invalidate(0, false).unwrap();
    let mut second = None;
    for _ in 0..400 {
        if let Some((id, seq)) = stored(&mut redis).await
            && id != first
        {
            assert_eq!(
                seq, 0,
                "the new session is persisted before any of it is acknowledged"
            );
            second = Some(id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let second = second.expect("the new session was not persisted while the broker was paused");
    child.kill().unwrap();
    child.wait().unwrap();
    stop("-CONT");
    let identifies = env.identifies();
    let resumes = env.resumes();
    let b = env.node("b").await;
    until(
        30,
        "b resumed the new session and its READY reached the mesh",
        || {
            env.resumes() > resumes
                && collector
                    .sequences()
                    .get(&second)
                    .is_some_and(|s| s.contains(&1) && s.contains(&2))
        },
    )
    .await;
    assert_eq!(env.identifies(), identifies, "no IDENTIFY after the kill");
    b.shutdown().await.unwrap();
}
