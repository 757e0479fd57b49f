//! Options of the projection (message cache, presences) and the worker's HTTP endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ddiscord::cache::{CacheReader, Keys};
use ddiscord::mesh::{Delivery, Mesh, MeshConfig};
use ddiscord::{Envelope, Topics};
use ddiscord_testkit::{Mosquitto, RedisServer};
use ddiscord_workers::{ProjectionConfig, Projector, StateWorker, StateWorkerConfig};
use serde_json::Value;

#[tokio::test]
async fn message_cache_is_bounded_per_channel() {
    let server = RedisServer::start().unwrap();
    let conn = redis(&server.url()).await;
    let fixtures = Fixtures::load();
    let template = fixtures
        .v10
        .iter()
        .find(|f| f["t"] == "MESSAGE_CREATE")
        .unwrap()
        .clone();
    let channel: u64 = template["d"]["channel_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut frames = Vec::new();
    for id in [1001u64, 1002, 1003] {
        let mut f = template.clone();
        f["d"]["id"] = Value::from(id.to_string());
        f["d"]["content"] = Value::from(format!("m{id}"));
        frames.push(f);
    }
    let mut update = frames[2].clone();
    update["t"] = Value::from("MESSAGE_UPDATE");
    update["d"]["content"] = Value::from("edited");
    frames.push(update);
    let delete = serde_json::json!({"op": 0, "t": "MESSAGE_DELETE", "d": {"id": "1002", "channel_id": channel.to_string()}});
    frames.push(delete);
    let config = ProjectionConfig {
        cache_presences: false,
        message_cache: 2,
    };
    let mut projector = Projector::new(conn.clone(), Keys::default(), config);
    projector
        .apply_batch(&parse(&envelopes(&frames[..3], 0, "m", 1)))
        .await
        .unwrap();
    let reader = CacheReader::new(conn.clone(), Keys::default());
    let ids: Vec<u64> = reader
        .recent_messages(channel, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id.get())
        .collect();
    assert_eq!(ids, [1003, 1002]);
    let mut c = conn.clone();
    let evicted: bool = redis::cmd("EXISTS")
        .arg(Keys::default().message(channel, 1001))
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(!evicted);
    projector
        .apply_batch(&parse(&envelopes(&frames[3..], 0, "m", 4)))
        .await
        .unwrap();
    let messages = reader.recent_messages(channel, 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].content, "edited");
}

#[tokio::test]
async fn presences_are_cached_when_enabled() {
    let server = RedisServer::start().unwrap();
    let conn = redis(&server.url()).await;
    let fixtures = Fixtures::load();
    let large = fixtures.guild_create(LARGE_GUILD);
    let user: u64 = large["d"]["presences"][0]["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for (enabled, prefix) in [(true, "on:"), (false, "off:")] {
        let config = ProjectionConfig {
            cache_presences: enabled,
            message_cache: 0,
        };
        let mut projector = Projector::new(conn.clone(), Keys::new(prefix), config);
        projector
            .apply_batch(&parse(&envelopes(std::slice::from_ref(&large), 0, "p", 1)))
            .await
            .unwrap();
        let reader = CacheReader::new(conn.clone(), Keys::new(prefix));
        let presence = reader.presence(LARGE_GUILD, user).await.unwrap();
        assert_eq!(presence.is_some(), enabled);
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    ddiscord_testkit::http_get(addr, path).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let redis_server = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let mut config = StateWorkerConfig::new(redis_server.url(), broker.url());
    config.shards = Some(1);
    config.http_addr = Some("127.0.0.1:0".parse().unwrap());
    let worker = StateWorker::start(config).await.unwrap();
    let addr = worker.http_addr().unwrap();
    assert!(get(addr, "/healthz").await.starts_with("HTTP/1.0 200"));
    assert!(get(addr, "/readyz").await.starts_with("HTTP/1.0 200"));
    // One READY through the mesh, then its metrics.
    let fixtures = Fixtures::load();
    let env = envelopes(&[fixtures.ready_for("h", &[])], 0, "h", 1).remove(0);
    let mesh = Mesh::connect(MeshConfig::new(broker.url())).await.unwrap();
    let topic = Topics::new("discord")
        .unwrap()
        .dispatch(0, None, "READY")
        .unwrap();
    mesh.publish(&topic, env.clone(), Delivery::Guaranteed)
        .await
        .unwrap();
    let e = Envelope::parse(env).unwrap();
    assert_eq!(e.event(), Some("READY"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = get(addr, "/metrics").await;
        if metrics.contains("ddiscord_state_events_applied_total 1") {
            assert!(metrics.contains("ddiscord_state_pipeline_depth"));
            assert!(metrics.contains("ddiscord_group_partitions_held"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.shutdown().await.unwrap();
}

/// Waits until `/readyz` starts with `status` (a deadline, never a fixed sleep).
async fn wait_ready(addr: std::net::SocketAddr, status: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = get(addr, "/readyz").await;
        if got.starts_with(status) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_mesh_and_redis() {
    let mut redis_server = RedisServer::start().unwrap();
    let mut broker = Mosquitto::start().unwrap();
    let mut config = StateWorkerConfig::new(redis_server.url(), broker.url());
    config.shards = Some(1);
    config.http_addr = Some("127.0.0.1:0".parse().unwrap());
    let worker = StateWorker::start(config).await.unwrap();
    let addr = worker.http_addr().unwrap();
    wait_ready(addr, "HTTP/1.0 200", "ready after joining").await;
    broker.stop();
    wait_ready(addr, "HTTP/1.0 503", "not ready without the mesh").await;
    broker.start_again().unwrap();
    wait_ready(addr, "HTTP/1.0 200", "ready after the mesh is back").await;
    redis_server.stop();
    wait_ready(addr, "HTTP/1.0 503", "not ready without Redis").await;
    redis_server.start_again().unwrap();
    wait_ready(addr, "HTTP/1.0 200", "ready after Redis is back").await;
    worker.shutdown().await.unwrap();
}
