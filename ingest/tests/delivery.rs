#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What reaches the mesh and Redis around a shard's dispatches: consumer-group sessions created
//! before the first publish, refused dispatches dead-lettered without stalling the shard, the
//! recorded topology, and readiness following the mesh and Redis.

mod common;

use std::time::Duration;

use common::{Collector, env, until};
use ddiscord::Envelope;
use ddiscord::coord::{DeadLetters, GroupRegistry, Topology};
use ddiscord::group::GroupConfig;
use ddiscord::topic::TopicPattern;
use ddiscord_ingest::{IngestErrorKind, IngestNode};
use futures::StreamExt;
use redis::aio::ConnectionManager;

async fn redis(env: &common::Env) -> ConnectionManager {
    let client = redis::Client::open(env.redis.url()).unwrap();
    ConnectionManager::new(client).await.unwrap()
}

/// Ingest runs with nobody subscribed; a state worker that opens its session afterwards still
/// receives the READY and GUILD_CREATEs of the shard's first connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_sessions_exist_before_the_first_publish() {
    let env = env(1, 0.0).await;
    let node = env.node("a").await;
    let mut r = redis(&env).await;
    let groups = GroupRegistry::list(&mut r, "dd:").await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, "state");
    assert_eq!(groups[0].pattern.as_str(), "discord/>");
    until(15, "shard connected", || env.all_shards_connected()).await;
    // Everything of the first connect is on the mesh before the state worker exists.
    let want = common::sim_max_seq(&env.sim);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let config = GroupConfig::new("state", TopicPattern::new("discord/>").unwrap(), 1);
    let mesh = env.mesh().await;
    let mut session = mesh
        .durable(
            &config.session_name(0),
            &[config.partition_pattern(0).unwrap()],
        )
        .await
        .unwrap();
    let mut events = Vec::new();
    let max: u64 = want.values().copied().max().unwrap();
    let got_all = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(d) = session.next().await {
            let e = Envelope::parse(d.message.payload.clone()).unwrap();
            events.push((e.event().map(str::to_owned), e.sequence()));
            d.ack().await.unwrap();
            if e.sequence() == Some(max) {
                break;
            }
        }
    })
    .await;
    assert!(
        got_all.is_ok(),
        "the session received up to {max}: {events:?}"
    );
    assert_eq!(events[0], (Some("READY".to_owned()), Some(1)));
    assert!(
        events
            .iter()
            .any(|(t, _)| t.as_deref() == Some("GUILD_CREATE")),
        "GUILD_CREATE of the first connect kept for the session: {events:?}"
    );
    let seqs: Vec<u64> = events.iter().filter_map(|(_, s)| *s).collect();
    assert_eq!(
        seqs,
        (1..=max).collect::<Vec<_>>(),
        "in read order, none missing"
    );
    session.close().await;
    node.shutdown().await.unwrap();
}

/// Dispatches over the payload limit go to the dead-letter stream with a PUBLISH_REFUSED
/// lifecycle event; the shard goes on publishing what follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_dispatches_are_dead_lettered_and_the_shard_goes_on() {
    let env = env(1, 50.0).await;
    let mesh = env.mesh().await;
    let lifecycle = Collector::start(&mesh, "discord-lifecycle/0/>").await;
    let dispatches = Collector::start(&mesh, "discord/>").await;
    let live_dead = Collector::start(&mesh, "discord-dead/ingest/>").await;
    let mut config = env.node_config("a");
    // GUILD_CREATEs of the fixture guilds are larger than this; READY and traffic are not.
    config.mesh.max_payload_bytes = 4096;
    let node = IngestNode::start(config).await.unwrap();
    let mut r = redis(&env).await;
    until(
        20,
        "a refusal recorded and later dispatches published",
        || {
            lifecycle
                .topics()
                .iter()
                .any(|t| t.ends_with("/PUBLISH_REFUSED"))
                && dispatches.len() > 50
        },
    )
    .await;
    let letters = DeadLetters::list(&mut r, "dd:", "ingest", 100)
        .await
        .unwrap();
    assert!(!letters.is_empty(), "the refused envelopes are in Redis");
    for l in &letters {
        assert_eq!(l.letter.reason, "payload_too_large");
        assert_eq!(l.letter.shard, 0);
        assert!(l.letter.payload.len() > 4096);
        let e = Envelope::parse(l.letter.payload.clone()).unwrap();
        assert_eq!(e.event(), Some("GUILD_CREATE"));
        assert!(l.letter.topic.starts_with("discord/0/"));
    }
    // The best-effort live copy on discord-dead/ingest/0 is over the same limit: not sent.
    assert_eq!(live_dead.len(), 0);
    // Nothing refused is on the dispatch tree, and sequences after the refusals arrived.
    let max_refused = letters
        .iter()
        .filter_map(|l| {
            Envelope::parse(l.letter.payload.clone())
                .unwrap()
                .sequence()
        })
        .max()
        .unwrap();
    let seqs = dispatches.sequences();
    assert!(seqs.values().any(|s| s.iter().any(|&q| q > max_refused)));
    node.shutdown().await.unwrap();
}

/// The first node records Discord's recommendation; an explicit contradicting shard count is
/// refused at startup with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_is_recorded_and_contradictions_refused() {
    let env = env(2, 0.0).await;
    let node = env.node("a").await;
    let mut r = redis(&env).await;
    let t = Topology::read(&mut r, "dd:").await.unwrap().unwrap();
    assert_eq!(t.shards, 2);
    assert_eq!(t.max_concurrency, 16);
    assert_eq!(t.gateway_url, env.sim.ws_url());
    let mut config = env.node_config("b");
    config.shards = Some(3);
    let err = IngestNode::start(config).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            IngestErrorKind::Topology {
                explicit: 3,
                recorded: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("DDISCORD_SHARDS=2"), "{err}");
    // Agreeing with the record is fine.
    let mut config = env.node_config("c");
    config.shards = Some(2);
    let c = IngestNode::start(config).await.unwrap();
    assert_eq!(c.shard_count(), 2);
    c.shutdown().await.unwrap();
    node.shutdown().await.unwrap();
}

/// `/readyz` follows the mesh connection and Redis: false while either is down, true again
/// after recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_mesh_and_redis() {
    let mut env = env(1, 0.0).await;
    let node = env.node("a").await;
    let status = node.status();
    until(10, "ready", || status.is_ready()).await;
    env.broker.stop();
    until(10, "not ready while the broker is down", || {
        !status.is_ready()
    })
    .await;
    assert!(status.check().unwrap_err().contains("mesh"));
    env.broker.start_again().unwrap();
    until(20, "ready after the broker is back", || status.is_ready()).await;
    env.redis.stop();
    until(10, "not ready while Redis is down", || !status.is_ready()).await;
    assert!(status.check().unwrap_err().contains("Redis"));
    env.redis.start_again().unwrap();
    until(20, "ready after Redis is back", || status.is_ready()).await;
    node.kill();
}

/// Two bots with different roots and key prefixes share one broker and one Redis: neither
/// takes the other's connection, sessions or leases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_share_a_broker_and_redis() {
    let env = env(1, 20.0).await;
    let mesh = env.mesh().await;
    let one = Collector::start(&mesh, "one/>").await;
    let two = Collector::start(&mesh, "two/>").await;
    let mut a = env.node_config("same-node");
    a.topic_root = "one".to_owned();
    a.key_prefix = "one:".to_owned();
    let mut b = env.node_config("same-node");
    b.topic_root = "two".to_owned();
    b.key_prefix = "two:".to_owned();
    let a = IngestNode::start(a).await.unwrap();
    let b = IngestNode::start(b).await.unwrap();
    until(20, "both bots publish", || one.len() > 20 && two.len() > 20).await;
    let mut r = redis(&env).await;
    for (prefix, root) in [("one:", "one"), ("two:", "two")] {
        let groups = GroupRegistry::list(&mut r, prefix).await.unwrap();
        assert_eq!(groups[0].pattern.as_str(), format!("{root}/>"));
    }
    assert_eq!(a.held(), vec![0]);
    assert_eq!(b.held(), vec![0]);
    // Both connections stay up: same node id, different client ids.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(a.status().is_ready() && b.status().is_ready());
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
