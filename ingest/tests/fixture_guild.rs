#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The captured 9,593-member GUILD_CREATE reaches its topic byte-for-byte.

mod common;

use std::time::Duration;

use common::{Collector, env, until};
use ddiscord::Envelope;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_guild_arrives_byte_for_byte() {
    let env = env(1, 0.0).await;
    let mesh = env.mesh().await;
    let text =
        std::fs::read_to_string(ddiscord_testkit::fixtures_dir().join("guild_create_large.json"))
            .unwrap();
    let frame: Value = serde_json::from_str(&text).unwrap();
    let d = frame["d"].clone();
    let guild_id = d["id"].as_str().unwrap().to_owned();
    let collector = Collector::start(&mesh, &format!("discord/0/{guild_id}/GUILD_CREATE")).await;
    let lifecycle = Collector::start(&mesh, "discord-lifecycle/0/>").await;
    let node = env.node("a").await;
    until(10, "shard 0 identified", || {
        lifecycle
            .topics()
            .iter()
            .any(|t| t.ends_with("/IDENTIFIED"))
    })
    .await;
    // What the simulator writes to the websocket is `d` serialised by serde_json.
    let sent = d.to_string();
    let seq = env.sim.dispatch(0, "GUILD_CREATE", &d).unwrap().unwrap();
    until(20, "the large GUILD_CREATE on its topic", || {
        collector.len() == 1
    })
    .await;
    let (topic, payload) = collector.messages.lock().unwrap()[0].clone();
    assert_eq!(topic, format!("discord/0/{guild_id}/GUILD_CREATE"));
    let env_ = Envelope::parse(payload).unwrap();
    assert_eq!(env_.d_bytes(), sent.as_bytes());
    assert_eq!(env_.sequence(), Some(seq));
    assert_eq!(env_.shard(), 0);
    assert!(env_.session().is_some());
    let members = d["members"].as_array().unwrap().len();
    assert_eq!(members, 9593);
    // An event Discord does not document is routed like any other (guild from `d.guild_id`).
    let unknown = Collector::start(&mesh, "discord/0/*/VOICE_CHANNEL_STATUS_UPDATE").await;
    let data = serde_json::json!({ "guild_id": guild_id, "id": "1", "status": "live" });
    env.sim
        .dispatch(0, "VOICE_CHANNEL_STATUS_UPDATE", &data)
        .unwrap()
        .unwrap();
    until(10, "the undocumented event on its topic", || {
        unknown.len() == 1
    })
    .await;
    assert_eq!(
        unknown.topics()[0],
        format!("discord/0/{guild_id}/VOICE_CHANNEL_STATUS_UPDATE")
    );
    node.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
}
