//! Mesh client behaviour that does not depend on the backend: bad input, a broker that is
//! down at start, oversized payloads, slow consumers. Runs against a private Mosquitto.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use ddiscord_mesh::{Delivery, Mesh, MeshConfig, MeshErrorKind, MeshEvent};
use ddiscord_model::topic::{Topic, TopicPattern};
use ddiscord_testkit::Mosquitto;
use futures::StreamExt as _;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

fn broker() -> Mosquitto {
    Mosquitto::start().unwrap()
}

#[tokio::test]
async fn invalid_urls_and_names_are_typed_errors() {
    for url in [
        "",
        "localhost:1883",
        "amqp://x:1",
        "mqtt://h:70000",
        "embedded://host:1",
    ] {
        let e = Mesh::connect(MeshConfig::new(url)).await.unwrap_err();
        assert!(
            matches!(e.kind(), MeshErrorKind::InvalidUrl { .. }),
            "{url}: {e}"
        );
        assert!(e.to_string().contains("mqtt://host:port"), "{e}");
    }
    #[cfg(not(feature = "solace"))]
    {
        let e = Mesh::connect(MeshConfig::new("solace://h:55555"))
            .await
            .unwrap_err();
        assert!(matches!(e.kind(), MeshErrorKind::Unsupported { .. }), "{e}");
    }
    let b = broker();
    let mesh = Mesh::connect(MeshConfig::new(b.url())).await.unwrap();
    let p = [TopicPattern::new("a/>").unwrap()];
    for name in ["", "has space", "a+b", "x#", &"n".repeat(129)] {
        let e = mesh.durable(name, &p).await.unwrap_err();
        assert!(matches!(e.kind(), MeshErrorKind::InvalidName { .. }), "{e}");
    }
    let e = mesh.durable("ok", &[]).await.unwrap_err();
    assert_eq!(e.kind(), &MeshErrorKind::NoPatterns);
}

#[tokio::test]
async fn oversized_payload_is_an_error_not_a_hang() {
    let b = broker();
    let mesh = Mesh::connect(MeshConfig::new(b.url()).with_max_payload_bytes(1000))
        .await
        .unwrap();
    let t = Topic::new("big/x").unwrap();
    for delivery in [Delivery::Direct, Delivery::Guaranteed] {
        let e = mesh
            .publish(&t, Bytes::from(vec![0u8; 1001]), delivery)
            .await
            .unwrap_err();
        assert_eq!(
            e.kind(),
            &MeshErrorKind::PayloadTooLarge {
                bytes: 1001,
                max: 1000
            }
        );
    }
    mesh.publish(&t, Bytes::from(vec![0u8; 1000]), Delivery::Guaranteed)
        .await
        .unwrap();
}

#[tokio::test]
async fn payload_over_the_broker_limit_fails_instead_of_looping() {
    // The client allows 2 MiB, the broker 1 MiB packets: the broker drops the connection on
    // every attempt, and the publish fails after a few instead of hanging.
    let b = Mosquitto::start_with(&["max_packet_size 1048576"]).unwrap();
    let mesh = Mesh::connect(MeshConfig::new(b.url()).with_max_payload_bytes(2 << 20))
        .await
        .unwrap();
    let t = Topic::new("big/x").unwrap();
    let e = timeout(
        WAIT,
        mesh.publish(&t, Bytes::from(vec![0u8; 1536 << 10]), Delivery::Guaranteed),
    )
    .await
    .expect("must not hang")
    .unwrap_err();
    assert!(matches!(e.kind(), MeshErrorKind::Backend { .. }), "{e}");
    assert!(e.to_string().contains("max_packet_size"), "{e}");
    // The connection recovers for normal traffic.
    mesh.publish(&t, Bytes::from_static(b"ok"), Delivery::Guaranteed)
        .await
        .unwrap();
}

#[tokio::test]
async fn broker_down_at_start_is_retried() {
    let mut b = broker();
    b.stop();
    let url = b.url();
    let mut connecting = tokio::spawn(async move { Mesh::connect(MeshConfig::new(url)).await });
    // Still retrying after a while (it would have failed at once otherwise).
    assert!(
        timeout(Duration::from_millis(500), &mut connecting)
            .await
            .is_err()
    );
    b.start_again().unwrap();
    let mesh = timeout(WAIT, connecting).await.unwrap().unwrap().unwrap();
    mesh.publish(
        &Topic::new("up/x").unwrap(),
        Bytes::from_static(b"1"),
        Delivery::Guaranteed,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn slow_consumer_is_reported_never_silent() {
    let b = broker();
    let mesh = Mesh::connect(MeshConfig::new(b.url()).with_subscription_capacity(10))
        .await
        .unwrap();
    let mut events = mesh.events();
    let mut slow = mesh
        .subscribe(&TopicPattern::new("slow/*").unwrap())
        .await
        .unwrap();
    let t = Topic::new("slow/x").unwrap();
    for i in 0..100u8 {
        mesh.publish(&t, Bytes::from(vec![i]), Delivery::Guaranteed)
            .await
            .unwrap();
    }
    let dropped = loop {
        match timeout(WAIT, events.recv()).await.unwrap().unwrap() {
            MeshEvent::SlowConsumer { pattern, dropped } => {
                assert_eq!(pattern, "slow/*");
                break dropped;
            }
            _ => continue,
        }
    };
    assert!(dropped >= 1);
    // The first 10 are there, in order; the rest were counted as dropped.
    for i in 0..10u8 {
        assert_eq!(slow.next().await.unwrap().payload[0], i);
    }
    assert!(slow.dropped() >= 1);
}

#[tokio::test]
async fn dropping_a_subscription_keeps_the_others() {
    let b = broker();
    let mesh = Mesh::connect(MeshConfig::new(b.url())).await.unwrap();
    let wide = mesh
        .subscribe(&TopicPattern::new("k/>").unwrap())
        .await
        .unwrap();
    let mut narrow = mesh
        .subscribe(&TopicPattern::new("k/*/x").unwrap())
        .await
        .unwrap();
    drop(wide);
    let t = Topic::new("k/1/x").unwrap();
    mesh.publish(&t, Bytes::from_static(b"1"), Delivery::Guaranteed)
        .await
        .unwrap();
    let m = timeout(WAIT, narrow.next()).await.unwrap().unwrap();
    assert_eq!(m.topic, "k/1/x");
    mesh.close().await;
    assert!(timeout(WAIT, narrow.next()).await.unwrap().is_none());
    let e = mesh
        .publish(&t, Bytes::from_static(b"2"), Delivery::Direct)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &MeshErrorKind::Closed);
}

#[tokio::test]
async fn embedded_broker_serves_other_processes() {
    let mesh = Mesh::connect(MeshConfig::new("embedded://127.0.0.1:0"))
        .await
        .unwrap();
    let broker = mesh.embedded().expect("started an embedded broker").clone();
    assert!(!broker.attached());
    assert!(broker.mqtt_url().starts_with("mqtt://127.0.0.1:"));
    let mut sub = mesh
        .subscribe(&TopicPattern::new("ext/*").unwrap())
        .await
        .unwrap();
    // Another process, a plain MQTT client.
    let port = broker.local_addr().port().to_string();
    let status = tokio::process::Command::new("mosquitto_pub")
        .args([
            "-p",
            &port,
            "-q",
            "1",
            "-t",
            "ext/a",
            "-m",
            "from another process",
        ])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let m = timeout(WAIT, sub.next()).await.unwrap().unwrap();
    assert_eq!(&m.payload[..], b"from another process");
}
