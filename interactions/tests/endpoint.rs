//! `POST /interactions` end to end over Mosquitto: signatures (valid, flipped byte, wrong key,
//! stale), PING, publication as INTERACTION_CREATE, a script's reply within the deadline, a
//! deferral without one, two replicas on one mesh, and the simulator's control endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ddiscord::mesh::{Mesh, MeshConfig};
use ddiscord::topic::TopicPattern;
use ddiscord::{Client, ClientConfig, Envelope};
use ddiscord_interactions::{Endpoint, EndpointHandle, InteractionsConfig};
use ddiscord_sim::interactions::{deliver, post_signed, public_key_hex, sign, signing_key};
use ddiscord_testkit::{Mosquitto, RedisServer};
use serde_json::{Value, json};

const SEED: u64 = 42;
const GUILD: u64 = 81384788765712384;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn endpoint(broker: &Mosquitto, deadline: Duration) -> EndpointHandle {
    let mut config = InteractionsConfig::new(public_key_hex(SEED), broker.url());
    config.deadline = deadline;
    config.shards = 4;
    Endpoint::start(config).await.unwrap()
}

fn url(e: &EndpointHandle) -> String {
    format!("http://{}/interactions", e.local_addr())
}

fn command(id: u64, kind: u8) -> Bytes {
    Bytes::from(
        json!({
            "id": id.to_string(),
            "application_id": "11",
            "type": kind,
            "token": "t",
            "version": 1,
            "guild_id": GUILD.to_string(),
            "data": {"id": "12", "name": "ping", "type": 1}
        })
        .to_string(),
    )
}

#[tokio::test]
async fn signatures_are_checked_and_ping_answered() {
    let broker = Mosquitto::start().unwrap();
    let e = endpoint(&broker, Duration::from_millis(500)).await;
    let key = signing_key(SEED);
    let ping =
        Bytes::from_static(br#"{"id":"1","application_id":"2","type":1,"token":"t","version":1}"#);

    let ok = deliver(&key, &url(&e), ping.clone(), now()).await.unwrap();
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body, json!({"type": 1}));

    // A flipped byte of the body, of the signature, of the timestamp.
    let at = now();
    let ts = at.to_string();
    let sig = sign(&key, &ts, &ping);
    let mut flipped = ping.to_vec();
    flipped[2] ^= 0x01;
    let a = post_signed(&url(&e), Bytes::from(flipped), &ts, &sig)
        .await
        .unwrap();
    assert_eq!(a.status, 401, "{a:?}");
    let mut bad_sig = hex_bytes(&sig);
    bad_sig[10] ^= 0x80;
    let a = post_signed(&url(&e), ping.clone(), &ts, &hex(&bad_sig))
        .await
        .unwrap();
    assert_eq!(a.status, 401, "{a:?}");
    let other_ts = (at - 1).to_string();
    let a = post_signed(&url(&e), ping.clone(), &other_ts, &sig)
        .await
        .unwrap();
    assert_eq!(a.status, 401, "{a:?}");

    // Another application's key.
    let a = deliver(&signing_key(SEED + 1), &url(&e), ping.clone(), now())
        .await
        .unwrap();
    assert_eq!(a.status, 401, "{a:?}");

    // Stale and future timestamps (default window 300 s), validly signed.
    for at in [now() - 310, now() + 310] {
        let a = deliver(&key, &url(&e), ping.clone(), at).await.unwrap();
        assert_eq!(a.status, 401, "{a:?}");
        assert!(a.body.as_str().unwrap().contains("away from now"), "{a:?}");
    }
    // Within the window.
    let a = deliver(&key, &url(&e), ping.clone(), now() - 200)
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{a:?}");

    // Missing headers.
    let a = post_signed(&url(&e), ping.clone(), "", "").await.unwrap();
    assert_eq!(a.status, 401, "{a:?}");
    e.shutdown().await.unwrap();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A script (the Rust SDK) subscribed to INTERACTION_CREATE answers each interaction with its
/// id in the content.
async fn script(broker: &Mosquitto, redis: &RedisServer) -> (Client, tokio::task::JoinHandle<()>) {
    let client = Client::connect(ClientConfig::new(broker.url(), redis.url()))
        .await
        .unwrap();
    let mut events = client
        .subscribe("discord/*/*/INTERACTION_CREATE")
        .await
        .unwrap();
    let replier = client.clone();
    let task = tokio::spawn(async move {
        use futures::StreamExt as _;
        while let Some(event) = events.next().await {
            let d = event.unwrap().json().unwrap();
            let id: u64 = d["id"].as_str().unwrap().parse().unwrap();
            if d["data"]["name"] == "silent" {
                continue;
            }
            replier
                .reply_interaction(
                    id,
                    &json!({"type": 4, "data": {"content": format!("pong {id}")}}),
                )
                .await
                .unwrap();
        }
    });
    (client, task)
}

#[tokio::test]
async fn interaction_is_published_and_the_reply_answers_discord() {
    let broker = Mosquitto::start().unwrap();
    let redis = RedisServer::start().unwrap();
    let e = endpoint(&broker, Duration::from_millis(2500)).await;
    let mesh = Mesh::connect(MeshConfig::new(broker.url())).await.unwrap();
    let mut raw = mesh
        .subscribe(&TopicPattern::new("discord/>").unwrap())
        .await
        .unwrap();
    let (client, task) = script(&broker, &redis).await;

    let id = 1_234_567_890_123_456_789;
    let body = command(id, 2);
    let a = deliver(&signing_key(SEED), &url(&e), body.clone(), now())
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.body,
        json!({"type": 4, "data": {"content": format!("pong {id}")}})
    );
    assert!(a.elapsed_ms < 2500.0, "{a:?}");

    // The envelope: the topic ingest would use, the body byte for byte as `d`.
    let m = tokio::time::timeout(Duration::from_secs(5), raw.recv())
        .await
        .unwrap()
        .unwrap();
    let shard = ddiscord::shard_for_guild(GUILD, 4);
    assert_eq!(
        m.topic,
        format!("discord/{shard}/{GUILD}/INTERACTION_CREATE")
    );
    let env = Envelope::parse(m.payload.clone()).unwrap();
    assert_eq!(env.event(), Some("INTERACTION_CREATE"));
    assert_eq!(env.shard(), shard);
    assert_eq!(env.session(), None);
    assert_eq!(env.sequence(), None);
    assert_eq!(env.d_raw().unwrap().get().as_bytes(), &body[..]);
    let v: Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["op"], 0);
    assert!(v["received_ms"].as_u64().unwrap() > 0);

    task.abort();
    client.close().await;
    e.shutdown().await.unwrap();
}

#[tokio::test]
async fn unanswered_interactions_are_deferred_within_the_deadline() {
    let broker = Mosquitto::start().unwrap();
    let e = endpoint(&broker, Duration::from_millis(400)).await;
    let key = signing_key(SEED);
    for (kind, deferred) in [(2u8, 5u64), (3, 6), (5, 5)] {
        let a = deliver(&key, &url(&e), command(1000 + u64::from(kind), kind), now())
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body, json!({"type": deferred}), "type {kind}");
        assert!(a.elapsed_ms >= 390.0, "{a:?}");
        assert!(a.elapsed_ms < 3000.0, "{a:?}");
    }
    let a = deliver(&key, &url(&e), command(1004, 4), now())
        .await
        .unwrap();
    assert_eq!(a.body["type"], 8, "{a:?}");
    e.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_replicas_each_get_their_own_replies() {
    let broker = Mosquitto::start().unwrap();
    let redis = RedisServer::start().unwrap();
    let a = endpoint(&broker, Duration::from_millis(2500)).await;
    let b = endpoint(&broker, Duration::from_millis(2500)).await;
    let (client, task) = script(&broker, &redis).await;
    let key = signing_key(SEED);
    let mut sent = Vec::new();
    for i in 0..20u64 {
        let target = if i % 2 == 0 { url(&a) } else { url(&b) };
        let id = 500_000_000_000_000_000 + i;
        let key = key.clone();
        sent.push(tokio::spawn(async move {
            let answer = deliver(&key, &target, command(id, 2), now()).await.unwrap();
            (id, answer)
        }));
    }
    for s in sent {
        let (id, answer) = s.await.unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(
            answer.body["data"]["content"],
            format!("pong {id}"),
            "{answer:?}"
        );
    }
    task.abort();
    client.close().await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn simulator_signs_and_sends_interactions() {
    let broker = Mosquitto::start().unwrap();
    let e = endpoint(&broker, Duration::from_millis(300)).await;
    let sim = ddiscord_sim::Simulator::start(ddiscord_sim::SimConfig {
        seed: SEED,
        interactions_url: Some(url(&e)),
        ..ddiscord_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let http = sim.http_url();
    let addr = http
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let key = ddiscord_testkit::http_get(addr.as_str(), "/control/interactions/public-key")
        .await
        .unwrap();
    assert!(key.contains(&public_key_hex(SEED)), "{key}");

    let answer = control_post(&addr, "/control/interaction", "").await;
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["body"], json!({"type": 5}), "{answer}");
    let answer = control_post(&addr, "/control/interaction?age_s=3600", "").await;
    assert_eq!(answer["status"], 401, "{answer}");
    let ping = r#"{"id":"1","application_id":"2","type":1,"token":"t","version":1}"#;
    let answer = control_post(&addr, "/control/interaction", ping).await;
    assert_eq!(answer["body"], json!({"type": 1}), "{answer}");
    sim.shutdown().await;
    e.shutdown().await.unwrap();
}

/// `POST path` with `body` to the simulator; the JSON answer.
async fn control_post(addr: &str, path: &str, body: &str) -> Value {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    let (_, json) = answer.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {answer}"))
}
