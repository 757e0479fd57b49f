//! Two-phase publishing keeps call order under backpressure: a burst far larger than the
//! connection's in-flight limit, queued one after the other while the acknowledgements are
//! awaited in a window (what an ingest shard does), reaches a plain MQTT subscriber in exactly
//! the order it was queued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use ddiscord_mesh::{Delivery, Mesh, MeshConfig, MeshErrorKind};
use ddiscord_model::topic::Topic;
use ddiscord_testkit::Mosquitto;
use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

const BURST: u32 = 3000;
/// Acknowledgements awaited at once by the publisher, as ingest's publish window.
const WINDOW: usize = 64;
/// The connection's in-flight limit: far below the window, so the queue is full all along.
const INFLIGHT: u16 = 4;

/// A plain rumqttc subscriber on `filter`; returns the payloads of the first `count` messages.
async fn plain_subscriber(port: u16, filter: &str) -> tokio::sync::mpsc::Receiver<Bytes> {
    let mut opts = MqttOptions::new(format!("plain-{}", rand_id()), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(10));
    let (client, mut el) = AsyncClient::new(opts, 100);
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(100_000);
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let mut subscribed = Some(subscribed_tx);
    tokio::spawn(async move {
        let _client = client;
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p.payload).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed_rx)
        .await
        .unwrap()
        .unwrap();
    rx
}

fn rand_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

async fn burst_arrives_in_publish_order(url: String, port: u16) {
    let mut sub = plain_subscriber(port, "order/#").await;
    let mesh = Mesh::connect(MeshConfig::new(url).with_max_inflight(INFLIGHT))
        .await
        .unwrap();
    // Several topics, as a shard publishes under many guilds.
    let topics: Vec<Topic> = (0..7)
        .map(|g| Topic::new(format!("order/0/{g}/MESSAGE_CREATE")).unwrap())
        .collect();
    let mut window = FuturesOrdered::new();
    for i in 0..BURST {
        let topic = &topics[(i as usize * 31) % topics.len()];
        let ack = mesh
            .publish_queued(topic, Bytes::from(i.to_string()), Delivery::Guaranteed)
            .await
            .unwrap();
        window.push_back(ack);
        if window.len() >= WINDOW {
            window.next().await.unwrap().unwrap();
        }
    }
    while let Some(ack) = window.next().await {
        ack.unwrap();
    }
    let mut got = Vec::with_capacity(BURST as usize);
    while got.len() < BURST as usize {
        let p = tokio::time::timeout(Duration::from_secs(20), sub.recv())
            .await
            .expect("the subscriber received the whole burst")
            .unwrap();
        got.push(std::str::from_utf8(&p).unwrap().parse::<u32>().unwrap());
    }
    let want: Vec<u32> = (0..BURST).collect();
    if got != want {
        let first = got.iter().zip(&want).position(|(a, b)| a != b).unwrap();
        panic!(
            "out of order from index {first}: got {:?}, want {:?}",
            &got[first..(first + 10).min(got.len())],
            &want[first..(first + 10).min(want.len())]
        );
    }
    mesh.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_arrives_in_publish_order_mqtt311() {
    let broker = Mosquitto::start().unwrap();
    burst_arrives_in_publish_order(broker.url(), broker.port()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_arrives_in_publish_order_mqtt5() {
    let broker = Mosquitto::start().unwrap();
    let url = broker.url().replace("mqtt://", "mqtt5://");
    burst_arrives_in_publish_order(url, broker.port()).await;
}

/// A payload over the limit fails before queuing, as a permanent refusal, and the connection
/// goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_fails_before_queuing_and_is_permanent() {
    let broker = Mosquitto::start().unwrap();
    let mut config = MeshConfig::new(broker.url()).with_max_inflight(1);
    config.max_payload_bytes = 8;
    let mesh = Mesh::connect(config).await.unwrap();
    let topic = Topic::new("order/0/-/BIG").unwrap();
    let err = mesh
        .publish_queued(
            &topic,
            Bytes::from_static(b"0123456789"),
            Delivery::Guaranteed,
        )
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), MeshErrorKind::PayloadTooLarge { .. }));
    assert!(err.is_permanent());
    assert_eq!(err.refusal_reason(), Some("payload_too_large"));
    // The connection still works after the refusal.
    mesh.publish(&topic, Bytes::from_static(b"ok"), Delivery::Guaranteed)
        .await
        .unwrap();
    mesh.close().await;
}
