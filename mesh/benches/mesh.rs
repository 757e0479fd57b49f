//! Publish → subscribe throughput of 1 KiB envelopes through a private Mosquitto, at QoS 0
//! (direct) and QoS 1 (guaranteed): `Mesh` beside a bare rumqttc loop and beside
//! `mosquitto_pub`/`mosquitto_sub`, same broker, same payloads, same run.
//!
//! `cargo bench -p ddiscord-mesh --bench mesh` (`DDISCORD_BENCH_MESSAGES`, default 100000).
//! Prints msgs/s for each and the ratio Mesh / bare rumqttc.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ddiscord_mesh::{Delivery, Mesh, MeshConfig};
use ddiscord_model::topic::{Topic, TopicPattern};
use ddiscord_testkit::Mosquitto;
use futures::StreamExt as _;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// A 1 KiB envelope as ingest publishes it.
fn envelope(seq: u64) -> Bytes {
    let head = format!(
        r#"{{"shard":0,"session":"9f1c2b7e","received_ms":1763719200123,"op":0,"t":"MESSAGE_CREATE","s":{seq},"d":{{"guild_id":"81384788765712384","content":""#
    );
    let tail = r#""}}"#;
    let pad = 1024 - head.len() - tail.len();
    Bytes::from(format!("{head}{}{tail}", "x".repeat(pad)))
}

/// Time from the first publish to the last message received (or the last one before the
/// receiver went idle for 3 s), and how many arrived.
struct Run {
    elapsed: Duration,
    received: u64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64()
    }
}

async fn mesh_run(url: &str, n: u64, delivery: Delivery, payloads: &[Bytes]) -> Run {
    let sub_mesh = Mesh::connect(MeshConfig::new(url).with_subscription_capacity(1 << 20))
        .await
        .unwrap();
    let publ = Mesh::connect(MeshConfig::new(url)).await.unwrap();
    let mut sub = sub_mesh
        .subscribe(&TopicPattern::new("bench/mesh/>").unwrap())
        .await
        .unwrap();
    let topic = Topic::new("bench/mesh/0/MESSAGE_CREATE").unwrap();
    let receiver = tokio::spawn(async move {
        let mut got = 0u64;
        let mut last = Instant::now();
        while got < n {
            match tokio::time::timeout(Duration::from_secs(3), sub.next()).await {
                Ok(Some(_)) => {
                    got += 1;
                    last = Instant::now();
                }
                _ => break,
            }
        }
        (got, last, sub.dropped())
    });
    let start = Instant::now();
    let p = &publ;
    let t = &topic;
    futures::stream::iter(0..n)
        .map(|i| p.publish(t, payloads[(i % 64) as usize].clone(), delivery))
        .buffer_unordered(512)
        .for_each(|r| async move { r.unwrap() })
        .await;
    let (received, last, dropped) = receiver.await.unwrap();
    if dropped > 0 {
        eprintln!("  (mesh subscriber dropped {dropped} as a slow consumer)");
    }
    publ.close().await;
    sub_mesh.close().await;
    Run {
        elapsed: last - start,
        received,
    }
}

async fn rumqttc_run(port: u16, n: u64, qos: QoS, payloads: &[Bytes]) -> Run {
    let mut so = MqttOptions::new("bench-sub", "127.0.0.1", port);
    so.set_max_packet_size(1 << 20, 1 << 20).set_inflight(500);
    let (sc, mut sel) = AsyncClient::new(so, 1024);
    let mut po = MqttOptions::new("bench-pub", "127.0.0.1", port);
    po.set_max_packet_size(1 << 20, 1 << 20).set_inflight(500);
    let (pc, mut pel) = AsyncClient::new(po, 1024);
    sc.subscribe("bench/raw/#", QoS::AtLeastOnce).await.unwrap();
    // Wait for the SUBACK.
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = sel.poll().await.unwrap() {
            break;
        }
    }
    let receiver = tokio::spawn(async move {
        let mut got = 0u64;
        let mut last = Instant::now();
        while got < n {
            match tokio::time::timeout(Duration::from_secs(3), sel.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(_)))) => {
                    got += 1;
                    last = Instant::now();
                }
                Ok(Ok(_)) => {}
                _ => break,
            }
        }
        drop(sc);
        (got, last)
    });
    let driver = tokio::spawn(async move { while pel.poll().await.is_ok() {} });
    let start = Instant::now();
    for i in 0..n {
        pc.publish_bytes(
            "bench/raw/0/MESSAGE_CREATE",
            qos,
            false,
            payloads[(i % 64) as usize].clone(),
        )
        .await
        .unwrap();
    }
    let (received, last) = receiver.await.unwrap();
    let _ = pc.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), driver).await;
    Run {
        elapsed: last - start,
        received,
    }
}

/// `mosquitto_sub` against `mosquitto_pub -l` fed n lines of the same size; counts the lines
/// `mosquitto_sub` prints (it exits after n, or after 20 s without finishing).
fn cli_run(port: u16, n: u64, qos: u8, payloads: &[Bytes]) -> Option<Run> {
    use std::io::{BufRead as _, Write as _};
    let p = port.to_string();
    let q = qos.to_string();
    let mut sub = Command::new("mosquitto_sub")
        .args([
            "-p",
            &p,
            "-q",
            &q,
            "-t",
            "bench/cli/#",
            "-C",
            &n.to_string(),
        ])
        .args(["-W", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let out = sub.stdout.take()?;
    // mosquitto_sub has no "subscribed" signal: give it a moment to subscribe.
    std::thread::sleep(Duration::from_millis(300));
    let mut input = Vec::with_capacity(n as usize * 1025);
    for i in 0..n {
        input.extend_from_slice(&payloads[(i % 64) as usize]);
        input.push(b'\n');
    }
    let start = Instant::now();
    let counter = std::thread::spawn(move || {
        let mut got = 0u64;
        let mut last = Instant::now();
        for _ in std::io::BufReader::new(out).lines() {
            got += 1;
            last = Instant::now();
        }
        (got, last)
    });
    let mut publ = Command::new("mosquitto_pub")
        .args(["-p", &p, "-q", &q, "-t", "bench/cli/0/MESSAGE_CREATE", "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .ok()?;
    {
        let mut stdin = publ.stdin.take()?;
        stdin.write_all(&input).ok()?;
    }
    let _ = sub.wait();
    let (received, last) = counter.join().ok()?;
    let _ = publ.kill();
    let _ = publ.wait();
    (received > 0).then_some(Run {
        elapsed: last - start,
        received,
    })
}

fn main() {
    let n: u64 = std::env::var("DDISCORD_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let payloads: Vec<Bytes> = (0..64).map(envelope).collect();
    assert_eq!(payloads[0].len(), 1024);
    let broker = Mosquitto::start().expect("mosquitto");
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "mesh throughput, {n} messages of 1024 bytes, one publisher and one subscriber, private Mosquitto"
    );
    println!(
        "{:<10} {:<22} {:>12} {:>10} {:>10}",
        "qos", "client", "msgs/s", "received", "vs rumqttc"
    );
    for (qos, delivery, rq) in [
        (0u8, Delivery::Direct, QoS::AtMostOnce),
        (1u8, Delivery::Guaranteed, QoS::AtLeastOnce),
    ] {
        let base = rt.block_on(rumqttc_run(broker.port(), n, rq, &payloads));
        let mesh = rt.block_on(mesh_run(&broker.url(), n, delivery, &payloads));
        let cli = cli_run(broker.port(), n, qos, &payloads);
        let row = |name: &str, r: &Run| {
            println!(
                "{:<10} {:<22} {:>12.0} {:>10} {:>9.2}x",
                format!("QoS {qos}"),
                name,
                r.rate(),
                r.received,
                r.rate() / base.rate()
            );
        };
        row("bare rumqttc", &base);
        row("ddiscord Mesh", &mesh);
        match &cli {
            Some(c) => row("mosquitto_pub/sub", c),
            None => println!(
                "{:<10} mosquitto_pub/sub: not run (missing or failed)",
                format!("QoS {qos}")
            ),
        }
    }
    match ddiscord_testkit::dropped_messages(&broker) {
        Ok(d) => println!("broker drop counter after the run: {d}"),
        Err(e) => println!("broker drop counter not read: {e}"),
    }
}
