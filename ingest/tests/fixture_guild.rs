#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The captured 9,593-member GUILD_CREATE reaches its topic byte-for-byte; ingest requests
//! its members, and a second request within 30 s gets Discord's RATE_LIMITED on the mesh.

mod common;

use std::time::Duration;

use common::{Collector, env, until};
use ddiscord::mesh::Delivery;
use ddiscord::{Envelope, Topic};
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

/// A large guild (above `large_threshold`) arrives without its offline members; ingest asks
/// for all of them (opcode 8) and the GUILD_MEMBERS_CHUNKs bring every member to the mesh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_guilds_members_are_requested_after_its_guild_create() {
    let env = common::env_with(ddiscord_sim::SimConfig {
        shards: 1,
        guilds: 1,
        large_guild: true,
        events_per_sec: 0.0,
        ..ddiscord_sim::SimConfig::default()
    })
    .await;
    let mesh = env.mesh().await;
    let creates = Collector::start(&mesh, "discord/0/*/GUILD_CREATE").await;
    let chunks = Collector::start(&mesh, "discord/0/*/GUILD_MEMBERS_CHUNK").await;
    let node = env.node("a").await;
    until(30, "both GUILD_CREATEs", || creates.len() == 2).await;
    let large = creates
        .messages
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| {
            let e = Envelope::parse(p.clone()).unwrap();
            serde_json::from_slice::<Value>(e.d_bytes()).unwrap()
        })
        .max_by_key(|d| d["member_count"].as_u64().unwrap())
        .unwrap();
    assert_eq!(large["large"], true);
    let total = large["member_count"].as_u64().unwrap() as usize;
    assert!(large["members"].as_array().unwrap().len() < total);
    let count = total.div_ceil(1000);
    until(30, "every chunk of the large guild", || {
        chunks.len() == count
    })
    .await;
    let mut members = std::collections::HashSet::new();
    for (_, p) in chunks.messages.lock().unwrap().iter() {
        let e = Envelope::parse(p.clone()).unwrap();
        let d: Value = serde_json::from_slice(e.d_bytes()).unwrap();
        assert!(
            d.get("nonce").is_none(),
            "ingest's own request carries no nonce"
        );
        for m in d["members"].as_array().unwrap() {
            members.insert(m["user"]["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(members.len(), total);

    // A script asking for every member again within 30 s: Discord's RATE_LIMITED, which has no
    // guild, reaches the mesh under the no-guild level with the script's nonce.
    let limited = Collector::start(&mesh, "discord/0/-/RATE_LIMITED").await;
    let gid = large["id"].as_str().unwrap();
    let body = format!(r#"{{"guild_id":"{gid}","query":"","limit":0,"nonce":"again"}}"#);
    mesh.publish(
        &Topic::new("discord-cmd/0/REQUEST_GUILD_MEMBERS").unwrap(),
        bytes::Bytes::from(body),
        Delivery::Guaranteed,
    )
    .await
    .unwrap();
    until(30, "RATE_LIMITED", || limited.len() == 1).await;
    let (_, p) = limited.messages.lock().unwrap()[0].clone();
    let d: Value = serde_json::from_slice(Envelope::parse(p).unwrap().d_bytes()).unwrap();
    assert_eq!(d["opcode"], 8);
    assert_eq!(d["meta"]["guild_id"], gid);
    assert_eq!(d["meta"]["nonce"], "again");
    assert!(d["retry_after"].as_f64().unwrap() > 0.0);
    assert_eq!(chunks.len(), count, "no chunks for the refused request");
    node.shutdown().await.unwrap();
}
