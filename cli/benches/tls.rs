//! The cost of TLS: the same work over plain TCP and over TLS with credentials, in one run, as a
//! ratio (TLS / plain).
//!
//! - Mesh: publish → subscribe of 1 KiB envelopes at QoS 1 (guaranteed) through a private
//!   Mosquitto, plain listener vs a Mosquitto whose only listener speaks TLS with a password
//!   file; one publishing and one subscribing `Mesh` each, clock from the first publish to the
//!   last message received.
//! - Redis: `GET` of a 1 KiB value, 32 in flight on one multiplexed connection (as the SDKs read),
//!   a private redis-server's plain port vs another's TLS port with an ACL user.
//!
//! `cargo bench -p ddiscord-cli --bench tls` (`DDISCORD_BENCH_MESSAGES`, default 50000;
//! `DDISCORD_BENCH_READS`, default 100000).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use ddiscord::coord::RedisTarget;
use ddiscord::mesh::tls::TlsFiles;
use ddiscord::mesh::{Delivery, Mesh, MeshConfig, Secret};
use ddiscord::topic::{Topic, TopicPattern};
use ddiscord_testkit::{Mosquitto, Pki, RedisServer, Secured};
use futures::StreamExt as _;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn envelope(seq: u64) -> Bytes {
    let head = format!(
        r#"{{"shard":0,"session":"9f1c2b7e","received_ms":1763719200123,"op":0,"t":"MESSAGE_CREATE","s":{seq},"d":{{"guild_id":"81384788765712384","content":""#
    );
    let tail = r#""}}"#;
    Bytes::from(format!(
        "{head}{}{tail}",
        "x".repeat(1024 - head.len() - tail.len())
    ))
}

async fn mesh_rate(config: MeshConfig, n: u64) -> f64 {
    let sub_mesh = Mesh::connect(config.clone().with_subscription_capacity(1 << 20))
        .await
        .unwrap();
    let publ = Mesh::connect(config).await.unwrap();
    let mut sub = sub_mesh
        .subscribe(&TopicPattern::new("bench/tls/>").unwrap())
        .await
        .unwrap();
    let topic = Topic::new("bench/tls/0/MESSAGE_CREATE").unwrap();
    let payloads: Vec<Bytes> = (0..64).map(envelope).collect();
    let receiver = tokio::spawn(async move {
        let mut got = 0u64;
        let mut last = Instant::now();
        while got < n {
            match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
                Ok(Some(_)) => {
                    got += 1;
                    last = Instant::now();
                }
                _ => break,
            }
        }
        (got, last)
    });
    let start = Instant::now();
    let (p, t) = (&publ, &topic);
    futures::stream::iter(0..n)
        .map(|i| p.publish(t, payloads[(i % 64) as usize].clone(), Delivery::Guaranteed))
        .buffer_unordered(512)
        .for_each(|r| async move { r.unwrap() })
        .await;
    let (got, last) = receiver.await.unwrap();
    publ.close().await;
    sub_mesh.close().await;
    if got < n {
        eprintln!("  (received {got} of {n})");
    }
    got as f64 / (last - start).as_secs_f64()
}

async fn redis_rate(target: RedisTarget, n: u64) -> f64 {
    let conn = target.connect().await.unwrap();
    let value = "x".repeat(1024);
    let _: () = redis::cmd("SET")
        .arg("bench:tls")
        .arg(&value)
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|_| {
            let mut c = conn.clone();
            async move {
                let v: Vec<u8> = redis::cmd("GET")
                    .arg("bench:tls")
                    .query_async(&mut c)
                    .await
                    .unwrap();
                assert_eq!(v.len(), 1024);
            }
        })
        .buffer_unordered(32)
        .for_each(|()| async {})
        .await;
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let messages = env_u64("DDISCORD_BENCH_MESSAGES", 50_000);
    let reads = env_u64("DDISCORD_BENCH_READS", 100_000);
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path()).unwrap();
    let secured = Secured {
        pki: pki.clone(),
        username: "bench".into(),
        password: "bench-password".into(),
    };
    let ca = TlsFiles {
        ca_file: Some(pki.ca_file.clone()),
        ..TlsFiles::default()
    };

    let plain_broker = Mosquitto::start().unwrap();
    let tls_broker = Mosquitto::start_secured(&secured).unwrap();
    let plain = mesh_rate(MeshConfig::new(plain_broker.url()), messages).await;
    let tls = mesh_rate(
        MeshConfig::new(tls_broker.url())
            .with_credentials("bench", Secret::new("bench-password"))
            .with_tls(ca.clone()),
        messages,
    )
    .await;
    println!("mesh publish→subscribe, QoS 1, 1 KiB, {messages} messages");
    println!("  plain TCP        {plain:>10.0} msg/s");
    println!(
        "  TLS + password   {tls:>10.0} msg/s   ({:.2}× of plain)",
        tls / plain
    );

    let plain_redis = RedisServer::start().unwrap();
    let tls_redis = RedisServer::start_secured(&secured).unwrap();
    let plain = redis_rate(RedisTarget::new(plain_redis.url()), reads).await;
    let tls = redis_rate(
        RedisTarget::new(tls_redis.url())
            .with_credentials(Some("bench".into()), Secret::new("bench-password"))
            .with_tls(ca),
        reads,
    )
    .await;
    println!("Redis GET, 1 KiB, 32 in flight, {reads} reads");
    println!("  plain TCP        {plain:>10.0} reads/s");
    println!(
        "  TLS + ACL user   {tls:>10.0} reads/s   ({:.2}× of plain)",
        tls / plain
    );
}
