#![allow(clippy::unwrap_used, clippy::expect_used)]
//! In-process ingest nodes against the simulator, Redis and Mosquitto.

mod common;

use std::time::Duration;

use common::{Collector, assert_no_gap, env, env_with, until};
use ddiscord::mesh::{Delivery, DurableSubscription};
use ddiscord::topic::TopicPattern;
use ddiscord::{Envelope, Topic};
use ddiscord_sim::SimConfig;
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_split_and_a_crash_is_resumed_without_identify() {
    let env = env(8, 200.0).await;
    let mesh = env.mesh().await;
    let collector = Collector::start(&mesh, "discord/>").await;
    let a = env.node("a").await;
    let b = env.node("b").await;
    until(20, "4/4 split and every shard connected", || {
        a.held().len() == 4 && b.held().len() == 4 && env.all_shards_connected()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = env.identifies();
    let resumes = env.resumes();
    let a_shards = a.held();
    a.kill();
    until(20, "b holds all 8 and a's shards resumed", || {
        b.held().len() == 8 && env.resumes() >= resumes + a_shards.len() as u64
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.identifies(), before, "no new IDENTIFY after the crash");
    assert_no_gap(&env, &collector, 20).await;
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_costs_zero_identifies() {
    let env = env(4, 100.0).await;
    let mesh = env.mesh().await;
    let collector = Collector::start(&mesh, "discord/>").await;
    let a = env.node("a1").await;
    let b = env.node("b1").await;
    until(20, "2/2 split, all shards connected", || {
        a.held().len() == 2 && b.held().len() == 2 && env.all_shards_connected()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = env.identifies();
    // Restart a: SIGTERM path (drain, persist, close 4000, release).
    a.shutdown().await.unwrap();
    until(10, "b holds all", || b.held().len() == 4).await;
    let a = env.node("a2").await;
    until(10, "split again", || {
        a.held().len() == 2 && b.held().len() == 2
    })
    .await;
    b.shutdown().await.unwrap();
    until(10, "a2 holds all", || a.held().len() == 4).await;
    let b = env.node("b2").await;
    until(10, "split again", || {
        a.held().len() == 2 && b.held().len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        env.identifies(),
        before,
        "a rolling restart costs no IDENTIFY"
    );
    assert_no_gap(&env, &collector, 20).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_for_10_s_under_load_loses_nothing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()))
        .try_init();
    let mut env = env(2, 300.0).await;
    let mesh = env.mesh().await;
    let pattern = TopicPattern::new("discord/>").unwrap();
    let mut durable: DurableSubscription = mesh
        .durable("ingest-test-reader", &[pattern])
        .await
        .unwrap();
    let collector = Collector::default();
    let m = collector.messages.clone();
    tokio::spawn(async move {
        while let Some(d) = durable.next().await {
            m.lock()
                .unwrap()
                .push((d.message.topic.clone(), d.message.payload.clone()));
            let _ = d.ack().await;
        }
    });
    let a = env.node("a").await;
    until(15, "events flowing", || collector.len() > 200).await;
    env.broker.stop();
    tokio::time::sleep(Duration::from_secs(10)).await;
    env.broker.start_again().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_no_gap(&env, &collector, 60).await;
    assert_eq!(ddiscord_testkit::dropped_messages(&env.broker).unwrap(), 0);
    a.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserve_reached_means_no_identify() {
    let env = env_with(SimConfig {
        shards: 1,
        session_start_total: 10,
        max_concurrency: 1,
        ..SimConfig::default()
    })
    .await;
    let mesh = env.mesh().await;
    let lifecycle = Collector::start(&mesh, "discord-lifecycle/>").await;
    let mut cfg = env.node_config("a");
    cfg.identify_reserve = 10;
    let a = ddiscord_ingest::IngestNode::start(cfg).await.unwrap();
    until(10, "IDENTIFY_REFUSED published", || {
        lifecycle
            .topics()
            .iter()
            .any(|t| t == "discord-lifecycle/0/IDENTIFY_REFUSED")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.identifies(), vec![0], "no IDENTIFY below the reserve");
    a.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_commands_are_rejected_visibly() {
    let env = env(1, 0.0).await;
    let mesh = env.mesh().await;
    let lifecycle = Collector::start(&mesh, "discord-lifecycle/0/>").await;
    let a = env.node("a").await;
    until(10, "identified", || {
        lifecycle
            .topics()
            .iter()
            .any(|t| t.ends_with("/IDENTIFIED"))
    })
    .await;
    let topic = Topic::new("discord-cmd/0/REQUEST_GUILD_MEMBERS").unwrap();
    mesh.publish(
        &topic,
        bytes::Bytes::from_static(b"{\"guild_id\":\"nope\"}"),
        Delivery::Guaranteed,
    )
    .await
    .unwrap();
    until(10, "COMMAND_REJECTED", || {
        lifecycle
            .topics()
            .iter()
            .any(|t| t.ends_with("/COMMAND_REJECTED"))
    })
    .await;
    let msgs = lifecycle.messages.lock().unwrap().clone();
    let (_, body) = msgs
        .iter()
        .find(|(t, _)| t.ends_with("/COMMAND_REJECTED"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["command"], "REQUEST_GUILD_MEMBERS");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("REQUEST_GUILD_MEMBERS")
    );
    assert_eq!(v["node"], "a");
    // READY reached the mesh as an envelope too.
    drop(Envelope::parse(bytes::Bytes::new()).err());
    a.shutdown().await.unwrap();
}
