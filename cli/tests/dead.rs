//! `ddiscord dead list|replay` against a private Redis and Mosquitto: dead letters recorded by a
//! component are listed, and a replay publishes them on their topic and removes them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use ddiscord::coord::{DeadLetter, DeadLetters};
use ddiscord::mesh::{Mesh, MeshConfig};
use ddiscord::topic::TopicPattern;
use ddiscord_testkit::{Mosquitto, RedisServer};
use futures::StreamExt;

const BIN: &str = env!("CARGO_BIN_EXE_ddiscord");

fn dead(redis: &RedisServer, broker: &Mosquitto, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("dead")
        .args(args)
        .env("DDISCORD_REDIS_URL", redis.url())
        .env("DDISCORD_MESH_URL", broker.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ddiscord dead {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_replayed() {
    let redis = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for seq in [7, 8] {
        let letter = DeadLetter {
            topic: "discord/0/-/MESSAGE_CREATE".into(),
            payload: Bytes::from(format!(
                r#"{{"shard":0,"session":"s","received_ms":1,"op":0,"t":"MESSAGE_CREATE","s":{seq},"d":{{}}}}"#
            )),
            reason: "max_deliveries".into(),
            shard: 0,
            at_ms: 1,
        };
        ids.push(
            DeadLetters::record(&mut conn, "dd:", "queue", &letter)
                .await
                .unwrap(),
        );
    }

    let listed = dead(&redis, &broker, &["list", "--group", "queue", "--json"]);
    let lines: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert_eq!(lines[0]["id"], ids[0].as_str());
    assert_eq!(lines[0]["reason"], "max_deliveries");
    assert_eq!(lines[1]["topic"], "discord/0/-/MESSAGE_CREATE");

    let mesh = Mesh::connect(MeshConfig::new(broker.url())).await.unwrap();
    let mut sub = mesh
        .subscribe(&TopicPattern::new("discord/0/-/MESSAGE_CREATE").unwrap())
        .await
        .unwrap();
    let replayed = dead(&redis, &broker, &["replay", "--group", "queue", &ids[1]]);
    assert!(replayed.contains(&ids[1]), "{replayed}");
    let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("the replayed letter is published")
        .unwrap();
    assert!(m.payload.ends_with(br#""s":8,"d":{}}"#));
    let left = DeadLetters::list(&mut conn, "dd:", "queue", 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, ids[0]);
}
