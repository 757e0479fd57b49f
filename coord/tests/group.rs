//! Consumer groups over Mosquitto and Redis: members share the partitions, a member that
//! leaves hands its partitions over with nothing lost, nacked messages are retried and then
//! dead-lettered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use ddiscord_coord::group::{ConsumerGroup, GroupConfig, GroupMessage, dead_letter_topic};
use ddiscord_mesh::{Delivery, Mesh, MeshConfig};
use ddiscord_model::envelope::{EnvelopeMeta, wrap};
use ddiscord_model::{Topic, TopicPattern};
use ddiscord_testkit::{Mosquitto, RedisServer};
use futures::StreamExt;

async fn redis(url: &str) -> redis::aio::ConnectionManager {
    redis::aio::ConnectionManager::new(redis::Client::open(url).unwrap())
        .await
        .unwrap()
}

fn config(name: &str, partitions: u32) -> GroupConfig {
    let mut c = GroupConfig::new(name, TopicPattern::new("discord/>").unwrap(), partitions);
    c.lease_ttl = Duration::from_millis(900);
    c.retry_delay = Duration::from_millis(10);
    c
}

/// Publishes `per_shard` dispatches on each of `shards` shards, sequences from `first`.
async fn publish(mesh: &Mesh, shards: u32, per_shard: u64, first: u64) -> BTreeSet<(u32, u64)> {
    let mut sent = BTreeSet::new();
    for shard in 0..shards {
        for s in first..first + per_shard {
            let frame = format!(r#"{{"op":0,"t":"MESSAGE_CREATE","s":{s},"d":{{}}}}"#);
            let meta = EnvelopeMeta {
                shard,
                session: Some("x"),
                received_ms: 1,
            };
            let body = wrap(&meta, frame.as_bytes()).unwrap();
            let topic = Topic::new(format!("discord/{shard}/-/MESSAGE_CREATE")).unwrap();
            mesh.publish(&topic, body, Delivery::Guaranteed)
                .await
                .unwrap();
            sent.insert((shard, s));
        }
    }
    sent
}

async fn wait_held(members: &[&ConsumerGroup], each: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !members.iter().all(|m| m.held().len() == each) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "partitions not shared: {:?}",
            members.iter().map(|m| m.held()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Receives and acks until `want` is covered; returns (shard, seq) → member index.
async fn consume(
    members: &mut [&mut ConsumerGroup],
    want: &BTreeSet<(u32, u64)>,
) -> BTreeMap<(u32, u64), usize> {
    let mut got = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !want.iter().all(|k| got.contains_key(k)) {
        let next = futures::future::select_all(members.iter_mut().map(|m| m.next())).await;
        let (message, index, _) = next;
        let message: GroupMessage = message.unwrap();
        assert_eq!(message.partition, message.envelope.shard());
        got.insert(
            (
                message.envelope.shard(),
                message.envelope.sequence().unwrap(),
            ),
            index,
        );
        // An ack fails when the partition moved meanwhile (rebalance): the new owner gets
        // the message again, which is the at-least-once contract.
        let _ = message.ack().await;
        assert!(tokio::time::Instant::now() < deadline, "missing messages");
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_share_partitions_and_hand_over() {
    let redis_server = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let mesh = Mesh::connect(MeshConfig::new(broker.url())).await.unwrap();
    let r = redis(&redis_server.url()).await;
    let mut a = ConsumerGroup::join(mesh.clone(), r.clone(), config("q", 4))
        .await
        .unwrap();
    // Published before the second member joins: the sessions already exist, nothing is lost.
    let mut want = publish(&mesh, 4, 10, 1).await;
    let mut b = ConsumerGroup::join(mesh.clone(), r.clone(), config("q", 4))
        .await
        .unwrap();
    wait_held(&[&a, &b], 2).await;
    want.extend(publish(&mesh, 4, 10, 11).await);
    let got = consume(&mut [&mut a, &mut b], &want).await;
    // Messages of the second round came from the member holding their partition.
    let held_b: BTreeSet<u32> = b.held().iter().map(|l| l.partition).collect();
    for ((shard, s), member) in &got {
        if *s > 10 {
            assert_eq!(
                *member == 1,
                held_b.contains(shard),
                "shard {shard} seq {s}"
            );
        }
    }
    // A leaves: B takes every partition over at once and receives what A never saw.
    a.shutdown().await.unwrap();
    wait_held(&[&b], 4).await;
    let more = publish(&mesh, 4, 5, 21).await;
    let got = consume(&mut [&mut b], &more).await;
    assert!(more.iter().all(|k| got.contains_key(k)));
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacked_messages_are_retried_then_dead_lettered() {
    let redis_server = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let mesh = Mesh::connect(MeshConfig::new(broker.url())).await.unwrap();
    let mut cfg = config("dlq", 1);
    cfg.max_deliveries = 3;
    let dead = TopicPattern::new(dead_letter_topic(&cfg, 0)).unwrap();
    let mut dead_sub = mesh.subscribe(&dead).await.unwrap();
    let mut group = ConsumerGroup::join(mesh.clone(), redis(&redis_server.url()).await, cfg)
        .await
        .unwrap();
    publish(&mesh, 1, 1, 1).await;
    for expected in 1..=3 {
        let m = group.next().await.unwrap();
        assert_eq!(m.deliveries, expected);
        m.nack().unwrap();
    }
    let dead_letter = tokio::time::timeout(Duration::from_secs(10), dead_sub.next())
        .await
        .unwrap()
        .unwrap();
    let body: Bytes = dead_letter.payload;
    assert!(body.starts_with(br#"{"shard":0"#));
    // Malformed bodies are dead-lettered too, never handed out.
    mesh.publish(
        &Topic::new("discord/0/-/MESSAGE_CREATE").unwrap(),
        Bytes::from_static(b"not json"),
        Delivery::Guaranteed,
    )
    .await
    .unwrap();
    let dead_letter = tokio::time::timeout(Duration::from_secs(10), dead_sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&dead_letter.payload[..], b"not json");
    group.shutdown().await.unwrap();
}

/// A message its consumers never acknowledge because they crash on it (dropping the member is
/// a crash: no ack, no lease release) is counted in Redis across the crashes and, past
/// `max_deliveries`, dead-lettered instead of being redelivered forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_crashes_its_consumers_reaches_the_dead_letters() {
    let redis_server = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let mesh = Mesh::connect(MeshConfig::new(broker.url())).await.unwrap();
    let mut cfg = config("poison", 1);
    cfg.max_deliveries = 3;
    let dead = TopicPattern::new(dead_letter_topic(&cfg, 0)).unwrap();
    let mut dead_sub = mesh.subscribe(&dead).await.unwrap();
    // Registered before the publish, so the session keeps the message.
    drop(
        ConsumerGroup::join(mesh.clone(), redis(&redis_server.url()).await, cfg.clone())
            .await
            .unwrap(),
    );
    publish(&mesh, 1, 1, 1).await;
    // The first member, dropped right after joining, may still take delivery 1 before its
    // drop takes effect: every delivery seen after that continues the count.
    let mut previous = 0;
    while previous < 3 {
        let mut member =
            ConsumerGroup::join(mesh.clone(), redis(&redis_server.url()).await, cfg.clone())
                .await
                .unwrap();
        let m = tokio::time::timeout(Duration::from_secs(20), member.next())
            .await
            .expect("the message is delivered again after the crash")
            .unwrap();
        assert!(
            m.deliveries > previous && (previous == 0 || m.deliveries == previous + 1),
            "delivery count kept across crashes: {} after {previous}",
            m.deliveries
        );
        previous = m.deliveries;
        // Crash while handling it.
        drop(m);
        drop(member);
    }
    let mut last = ConsumerGroup::join(mesh.clone(), redis(&redis_server.url()).await, cfg)
        .await
        .unwrap();
    let dead_letter = tokio::time::timeout(Duration::from_secs(20), dead_sub.next())
        .await
        .expect("dead-lettered after 3 deliveries")
        .unwrap();
    assert!(dead_letter.payload.starts_with(br#"{"shard":0"#));
    // Kept durably in Redis with the reason, for `ddiscord dead list|replay`.
    let letters = ddiscord_coord::DeadLetters::list(
        &mut redis(&redis_server.url()).await,
        "dd:",
        "poison",
        10,
    )
    .await
    .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].letter.reason, "redelivered_too_often");
    assert_eq!(letters[0].letter.topic, "discord/0/-/MESSAGE_CREATE");
    // It is not handed out a fourth time.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), last.next())
            .await
            .is_err()
    );
    last.shutdown().await.unwrap();
}

/// A message its consumers give back without working on it (the partition was lost, or they
/// are stopping: [`GroupMessage::abandon`]) is delivered again as often as that happens and
/// never dead-lettered: only crashes and nacks count towards `max_deliveries`. A partition
/// that changes hands many times must not lose healthy messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_deliveries_are_not_counted_as_failures() {
    let redis_server = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let mesh = Mesh::connect(MeshConfig::new(broker.url())).await.unwrap();
    let mut cfg = config("handover", 1);
    cfg.max_deliveries = 2;
    let dead = TopicPattern::new(dead_letter_topic(&cfg, 0)).unwrap();
    let mut dead_sub = mesh.subscribe(&dead).await.unwrap();
    drop(
        ConsumerGroup::join(mesh.clone(), redis(&redis_server.url()).await, cfg.clone())
            .await
            .unwrap(),
    );
    publish(&mesh, 1, 1, 1).await;
    // Twice max_deliveries hand-overs, each abandoning the message.
    for round in 0..4 {
        let mut member =
            ConsumerGroup::join(mesh.clone(), redis(&redis_server.url()).await, cfg.clone())
                .await
                .unwrap();
        let m = tokio::time::timeout(Duration::from_secs(20), member.next())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the abandoned message came back"))
            .unwrap();
        assert!(
            m.deliveries <= 2,
            "round {round}: an abandoned delivery was counted: {} deliveries",
            m.deliveries
        );
        m.abandon().await;
        drop(member);
    }
    let mut last = ConsumerGroup::join(mesh.clone(), redis(&redis_server.url()).await, cfg)
        .await
        .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(20), last.next())
        .await
        .expect("still delivered after the hand-overs")
        .unwrap();
    m.ack().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), dead_sub.next())
            .await
            .is_err(),
        "an abandoned message was dead-lettered"
    );
    last.shutdown().await.unwrap();
}
