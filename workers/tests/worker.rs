//! The state worker end to end over Mosquitto and Redis: consumer group, projection,
//! republish; a replica process killed mid-stream; a Redis restart mid-stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use ddiscord::cache::Keys;
use ddiscord::mesh::{Delivery, Mesh, MeshConfig};
use ddiscord::{Envelope, TopicPattern, Topics};
use ddiscord_testkit::{Mosquitto, RedisServer};
use ddiscord_workers::{ProjectionConfig, Projector, StateWorker, StateWorkerConfig};
use futures::StreamExt;

/// Shard 0: READY, three GUILD_CREATEs, the v10 dispatches; shard 1: READY, the v6 dispatches.
fn traffic() -> (Vec<Bytes>, Vec<Bytes>) {
    let f = Fixtures::load();
    let guilds = [LARGE_GUILD, V10_GUILD_A, V10_GUILD_B];
    let mut s0 = vec![f.ready_for("s0", &guilds)];
    s0.extend(guilds.iter().map(|g| f.guild_create(*g)));
    s0.extend(
        f.v10
            .iter()
            .filter(|v| v["op"] == 0 && v["t"] != "READY" && v["t"] != "GUILD_CREATE")
            .cloned(),
    );
    let mut s1 = vec![f.ready_for("s1", &[])];
    s1.extend(f.v6.iter().cloned());
    (envelopes(&s0, 0, "s0", 1), envelopes(&s1, 1, "s1", 1))
}

async fn publish(mesh: &Mesh, envs: &[Bytes]) {
    let topics = Topics::new("discord").unwrap();
    for b in envs {
        let e = Envelope::parse(b.clone()).unwrap();
        let topic = topics
            .dispatch(e.shard(), e.guild_id().unwrap(), e.event().unwrap())
            .unwrap();
        mesh.publish(&topic, b.clone(), Delivery::Guaranteed)
            .await
            .unwrap();
    }
}

/// The projection applied directly (already compared with twilight in `reference.rs`).
async fn reference(url: &str, prefix: &str, shards: &[&[Bytes]]) {
    let mut p = Projector::new(
        redis(url).await,
        Keys::new(prefix),
        ProjectionConfig::default(),
    );
    for envs in shards {
        p.apply_batch(&parse(envs)).await.unwrap();
    }
}

/// Waits until the state tree has carried every (shard, sequence) of `all`.
async fn await_state(sub: &mut ddiscord::mesh::Subscription, all: &[&[Bytes]]) {
    let mut want: HashSet<(u32, u64)> = all
        .iter()
        .flat_map(|envs| parse(envs))
        .map(|e| (e.shard(), e.sequence().unwrap()))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !want.is_empty() {
        let m = tokio::time::timeout_at(deadline, sub.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "state tree incomplete, missing {} e.g. {:?}",
                    want.len(),
                    want.iter().next()
                )
            })
            .unwrap();
        let e = Envelope::parse(m.payload).unwrap();
        want.remove(&(e.shard(), e.sequence().unwrap()));
    }
}

/// The shipped broker configuration refuses packets over 1 MiB; the large guild's GUILD_CREATE
/// is 3 MiB, as real ones of large guilds are.
fn broker() -> Mosquitto {
    Mosquitto::start_with(&["max_packet_size 33554432"]).unwrap()
}

fn config(redis: &str, mesh: &str) -> StateWorkerConfig {
    let mut c = StateWorkerConfig::new(redis, mesh);
    c.key_prefix = "w:".into();
    c.shards = Some(2);
    c.lease_ttl = Duration::from_millis(1500);
    c
}

/// Compares the worker's cache with the reference projection. Users are global and both
/// shards write some of the same users; Discord defines no order across shards, so a user key
/// may equal either order's result (`other`: the shards applied the other way round).
fn assert_same(
    ours: &std::collections::BTreeMap<String, String>,
    reference: &std::collections::BTreeMap<String, String>,
    other: &std::collections::BTreeMap<String, String>,
) {
    let differing: Vec<_> = ours
        .keys()
        .chain(reference.keys())
        .filter(|k| ours.get(*k) != reference.get(*k))
        .filter(|k| !(k.starts_with("user:") && ours.get(*k) == other.get(*k)))
        .collect();
    for k in differing.iter().take(3) {
        eprintln!(
            "{k}:\n  ours {:?}\n  ref  {:?}",
            ours.get(*k).map(|v| &v[..v.len().min(300)]),
            reference.get(*k).map(|v| &v[..v.len().min(300)])
        );
    }
    assert!(
        differing.is_empty(),
        "{} keys differ: {:?}",
        differing.len(),
        &differing[..differing.len().min(10)]
    );
}

/// A client of `broker` to publish dispatches with, and its subscription to the state tree.
async fn publisher_and_state_tree(broker: &Mosquitto) -> (Mesh, ddiscord::mesh::Subscription) {
    let mesh = Mesh::connect(MeshConfig::new(broker.url()).with_max_payload_bytes(16 << 20))
        .await
        .unwrap();
    let state = mesh
        .subscribe(&TopicPattern::new("discord-state/>").unwrap())
        .await
        .unwrap();
    (mesh, state)
}

/// Asserts that the worker's cache (prefix `w:`) equals the projection of the two shards'
/// streams applied directly, in either shard order; returns the worker's cache.
async fn assert_equals_reference(
    url: &str,
    s0: &[Bytes],
    s1: &[Bytes],
) -> std::collections::BTreeMap<String, String> {
    reference(url, "ref:", &[s0, s1]).await;
    reference(url, "ref2:", &[s1, s0]).await;
    let ours = cache_snapshot(url, "w:").await;
    assert_same(
        &ours,
        &cache_snapshot(url, "ref:").await,
        &cache_snapshot(url, "ref2:").await,
    );
    ours
}

async fn cache_snapshot(url: &str, prefix: &str) -> std::collections::BTreeMap<String, String> {
    let mut s = snapshot(&mut redis(url).await, prefix).await;
    // Coordination keys, not the cache.
    s.retain(|k, _| !k.starts_with("lease:") && k != "groups" && k != "topology");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_projects_and_republishes() {
    let redis_server = RedisServer::start().unwrap();
    let broker = broker();
    let (s0, s1) = traffic();
    let worker = StateWorker::start(config(&redis_server.url(), &broker.url()))
        .await
        .unwrap();
    let (mesh, mut state) = publisher_and_state_tree(&broker).await;
    publish(&mesh, &s0).await;
    publish(&mesh, &s1).await;
    await_state(&mut state, &[&s0, &s1]).await;
    let ours = assert_equals_reference(&redis_server.url(), &s0, &s1).await;
    assert!(ours.len() > 9_000);
    worker.shutdown().await.unwrap();
}

/// Each block of `block` events reversed: what a burst that reorders a shard's dispatches
/// delivers.
fn reordered(envs: &[Bytes], block: usize) -> Vec<Bytes> {
    envs.chunks(block)
        .flat_map(|c| c.iter().rev().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_dispatches_are_held_until_their_gap_fills() {
    let redis_server = RedisServer::start().unwrap();
    let broker = broker();
    let (s0, s1) = traffic();
    let worker = StateWorker::start(config(&redis_server.url(), &broker.url()))
        .await
        .unwrap();
    let (mesh, mut state) = publisher_and_state_tree(&broker).await;
    // READY and GUILD_CREATEs late too: nothing may be applied before its predecessors.
    publish(&mesh, &reordered(&s0, 7)).await;
    publish(&mesh, &reordered(&s1, 13)).await;
    await_state(&mut state, &[&s0, &s1]).await;
    assert_equals_reference(&redis_server.url(), &s0, &s1).await;
    // Every sequence was applied in order: the shard hashes end at the last sequence.
    let mut r = redis(&redis_server.url()).await;
    for (shard, envs) in [(0, &s0), (1, &s1)] {
        let seq: u64 = redis::cmd("HGET")
            .arg(format!("w:shard:{shard}"))
            .arg("seq")
            .query_async(&mut r)
            .await
            .unwrap();
        assert_eq!(seq, envs.len() as u64, "shard {shard}");
    }
    worker.shutdown().await.unwrap();
}

/// A gap that never fills is given up on after the gap timeout: what follows is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_that_never_fills_is_given_up_after_the_timeout() {
    let redis_server = RedisServer::start().unwrap();
    let broker = broker();
    let (s0, _) = traffic();
    let mut c = config(&redis_server.url(), &broker.url());
    c.gap_timeout = Duration::from_millis(500);
    let worker = StateWorker::start(c).await.unwrap();
    let (mesh, mut state) = publisher_and_state_tree(&broker).await;
    let lifecycle = mesh
        .subscribe(&TopicPattern::new("discord-lifecycle/0/SEQUENCE_GAP").unwrap())
        .await
        .unwrap();
    // Sequence 6 never arrives.
    let mut missing: Vec<Bytes> = s0.clone();
    let lost = missing.remove(5);
    publish(&mesh, &missing).await;
    await_state(&mut state, &[&missing]).await;
    let mut lifecycle = lifecycle;
    let gap = tokio::time::timeout(Duration::from_secs(10), lifecycle.next())
        .await
        .expect("a SEQUENCE_GAP lifecycle event")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&gap.payload).unwrap();
    assert_eq!(body["expected"], 6);
    assert_eq!(body["applied"], 7);
    assert_eq!(Envelope::parse(lost).unwrap().sequence(), Some(6));
    worker.shutdown().await.unwrap();
}

/// Replica A of `killed_replica_process_loses_nothing`: this test binary run again as a child
/// process (`--ignored --exact replica_process`), with the URLs in the environment. Prints
/// `replica ready` once it joined the group, then runs until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of killed_replica_process_loses_nothing"]
async fn replica_process() {
    let (Ok(redis), Ok(mesh)) = (
        std::env::var("DDISCORD_TEST_REPLICA_REDIS"),
        std::env::var("DDISCORD_TEST_REPLICA_MESH"),
    ) else {
        return;
    };
    let _worker = StateWorker::start(config(&redis, &mesh)).await.unwrap();
    println!("replica ready");
    std::future::pending::<()>().await;
}

/// Starts [`replica_process`] and waits until it joined the consumer group.
fn spawn_replica(redis: &str, mesh: &str) -> std::process::Child {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "replica_process", "--nocapture"])
        .env("DDISCORD_TEST_REPLICA_REDIS", redis)
        .env("DDISCORD_TEST_REPLICA_MESH", mesh)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("the replica exited before joining")
            .unwrap();
        if line.contains("replica ready") {
            break;
        }
    }
    // Keep draining its output so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// Waits until the two partitions' leases have different owners (each replica holds one).
async fn await_one_partition_each(url: &str) {
    let mut conn = redis(url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut owners = Vec::new();
        for partition in 0..2 {
            let owner: Option<String> = redis::cmd("HGET")
                .arg(format!("w:lease:group:state:{partition}"))
                .arg("owner")
                .query_async(&mut conn)
                .await
                .unwrap();
            owners.push(owner);
        }
        if owners[0].is_some() && owners[1].is_some() && owners[0] != owners[1] {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the partitions were not shared: {owners:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_replica_process_loses_nothing() {
    let redis_server = RedisServer::start().unwrap();
    let broker = broker();
    let (s0, s1) = traffic();
    // Two replicas share the two shards: A in its own process, B in this one.
    let mut a = spawn_replica(&redis_server.url(), &broker.url());
    let b = StateWorker::start(config(&redis_server.url(), &broker.url()))
        .await
        .unwrap();
    let (mesh, mut state) = publisher_and_state_tree(&broker).await;
    let (h0, t0) = s0.split_at(s0.len() / 2);
    let (h1, t1) = s1.split_at(s1.len() / 2);
    publish(&mesh, h0).await;
    publish(&mesh, h1).await;
    await_state(&mut state, &[h0, h1]).await;
    await_one_partition_each(&redis_server.url()).await;
    // SIGKILL: A releases nothing, its leases expire; the rest of the stream is published
    // while its shards have no consumer.
    a.kill().unwrap();
    a.wait().unwrap();
    publish(&mesh, t0).await;
    publish(&mesh, t1).await;
    await_state(&mut state, &[t0, t1]).await;
    assert_equals_reference(&redis_server.url(), &s0, &s1).await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_mid_stream() {
    let mut redis_server = RedisServer::start().unwrap();
    let broker = broker();
    let (s0, s1) = traffic();
    let worker = StateWorker::start(config(&redis_server.url(), &broker.url()))
        .await
        .unwrap();
    let (mesh, mut state) = publisher_and_state_tree(&broker).await;
    let (h0, t0) = s0.split_at(s0.len() / 2);
    publish(&mesh, h0).await;
    await_state(&mut state, &[h0]).await;
    // Redis as deployed: a save point, so a SIGTERM writes everything to disk first.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("3600 1")
        .query_async(&mut redis(&redis_server.url()).await)
        .await
        .unwrap();
    // Restart Redis (data kept) while the rest of the stream arrives.
    let restart = tokio::task::spawn_blocking(move || {
        redis_server.restart().unwrap();
        redis_server
    });
    publish(&mesh, t0).await;
    publish(&mesh, &s1).await;
    let redis_server = restart.await.unwrap();
    await_state(&mut state, &[t0, &s1]).await;
    assert_equals_reference(&redis_server.url(), &s0, &s1).await;
    worker.shutdown().await.unwrap();
}
