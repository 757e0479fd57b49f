//! `ddiscord::Client` against a real Mosquitto: subscriptions with each wildcard form, bad
//! patterns, command routing and member-chunk matching.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use ddiscord::client::{ClientConfig, ClientErrorKind, MemberRequest};
use ddiscord::envelope::{EnvelopeMeta, wrap};
use ddiscord::{Client, Topics};
use ddiscord_testkit::Mosquitto;
use futures::StreamExt as _;

fn frames() -> Vec<Vec<u8>> {
    let text =
        std::fs::read_to_string(ddiscord_testkit::fixtures_dir().join("events_v6_upgraded.jsonl"))
            .unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

fn envelope(frame: &[u8], shard: u32, session: &str) -> Bytes {
    wrap(
        &EnvelopeMeta {
            shard,
            session: Some(session),
            received_ms: 1,
        },
        frame,
    )
    .unwrap()
}

async fn client(broker: &Mosquitto, shards: u32) -> Client {
    let mut config = ClientConfig::new(broker.url(), "redis://127.0.0.1:1");
    config.shards = Some(shards);
    config.chunk_timeout = Duration::from_secs(5);
    Client::connect(config).await.unwrap()
}

/// Publishes raw MQTT messages as ingest would.
async fn raw_publisher(broker: &Mosquitto) -> rumqttc_shim::Publisher {
    rumqttc_shim::Publisher::connect(broker.port()).await
}

mod rumqttc_shim {
    //! A plain MQTT client for the tests, independent of the client under test.
    use rumqttc::{AsyncClient, MqttOptions, QoS};

    pub struct Publisher(AsyncClient, tokio::task::JoinHandle<()>);

    impl Publisher {
        pub async fn connect(port: u16) -> Self {
            let id = format!("test-pub-{}", rand_id());
            let (client, mut eventloop) =
                AsyncClient::new(MqttOptions::new(id, "127.0.0.1", port), 1000);
            let task = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
            Self(client, task)
        }

        pub async fn publish(&self, topic: &str, payload: impl Into<bytes::Bytes>) {
            self.0
                .publish_bytes(topic, QoS::AtLeastOnce, false, payload.into())
                .await
                .unwrap();
        }
    }

    impl Drop for Publisher {
        fn drop(&mut self) {
            self.1.abort();
        }
    }

    /// Subscribes to `filter` at QoS 1 and returns the payloads; resolves once subscribed.
    pub async fn subscribe(
        port: u16,
        filter: &str,
    ) -> tokio_stream::wrappers::ReceiverStream<bytes::Bytes> {
        let id = format!("test-sub-{}", rand_id());
        let (client, mut eventloop) =
            AsyncClient::new(MqttOptions::new(id, "127.0.0.1", port), 1000);
        client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(1000);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _client = client;
            let mut ready = Some(ready_tx);
            while let Ok(event) = eventloop.poll().await {
                match event {
                    rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))
                        if tx.send(p.payload.clone()).await.is_err() =>
                    {
                        break;
                    }
                    _ => {}
                }
            }
        });
        ready_rx.await.unwrap();
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }

    fn rand_id() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

#[tokio::test]
async fn subscribe_with_each_wildcard_form() {
    let broker = Mosquitto::start().unwrap();
    let client = client(&broker, 2).await;
    let topics = Topics::default();
    let patterns = [
        ("discord/*/*/MESSAGE_CREATE", "discord/0/-/MESSAGE_CREATE"),
        ("discord/*/*/MESSAGE_*", "discord/0/-/MESSAGE_X"),
        ("discord/1/>", "discord/1/-/X"),
        (
            "discord/*/244567637332328449/*",
            "discord/0/244567637332328449/X",
        ),
    ];
    let mut subs = Vec::new();
    for (p, _) in &patterns {
        subs.push(client.subscribe(p).await.unwrap());
    }
    let publisher = raw_publisher(&broker).await;
    let mut published = Vec::new();
    for (i, frame) in frames().iter().enumerate() {
        let shard = (i % 2) as u32;
        let head = ddiscord::FrameHead::parse(frame).unwrap();
        let topic = topics
            .dispatch(shard, head.guild_id().unwrap(), head.t.as_deref().unwrap())
            .unwrap();
        publisher
            .publish(topic.as_str(), envelope(frame, shard, "s"))
            .await;
        published.push(topic.to_string());
    }
    for (i, (_, sentinel)) in patterns.iter().enumerate() {
        let body = envelope(br#"{"op":0,"t":"X","s":1,"d":{}}"#, 0, &format!("end-{i}"));
        publisher.publish(sentinel, body).await;
    }
    for (i, ((pattern, _), mut sub)) in patterns.iter().zip(subs).enumerate() {
        let parsed = ddiscord::TopicPattern::new(*pattern).unwrap();
        let mut expected: Vec<String> = published
            .iter()
            .filter(|t| parsed.matches(t))
            .cloned()
            .collect();
        expected.extend(
            patterns[..i]
                .iter()
                .map(|(_, s)| s.to_string())
                .filter(|t| parsed.matches(t)),
        );
        assert!(!expected.is_empty());
        let mut got = Vec::new();
        let end = format!("end-{i}");
        loop {
            let batch = tokio::time::timeout(Duration::from_secs(10), sub.next_batch(64))
                .await
                .expect("events arrive");
            assert!(!batch.is_empty(), "stream ended");
            let mut done = false;
            for event in batch {
                let event = event.unwrap();
                if event.session() == Some(end.as_str()) {
                    done = true;
                    break;
                }
                got.push(event.topic().to_owned());
            }
            if done {
                break;
            }
        }
        assert_eq!(got, expected, "{pattern}");
    }
}

#[tokio::test]
async fn bad_patterns_and_commands_are_errors() {
    let broker = Mosquitto::start().unwrap();
    let client = client(&broker, 4).await;
    for bad in ["discord//X", "discord/#", "other/>", "discord/a*b", ">"] {
        let e = client.subscribe(bad).await.unwrap_err();
        assert!(
            matches!(e.kind(), ClientErrorKind::InvalidPattern { .. }),
            "{bad}: {e}"
        );
    }
    // A dispatch-tree pattern is moved to the state tree.
    assert_eq!(
        client
            .subscribe_state("discord/*/*/X")
            .await
            .unwrap()
            .pattern(),
        "discord-state/*/*/X"
    );
    let e = client
        .send_command(0, "IDENTIFY", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown gateway command"), "{e}");
    let e = client
        .send_command(4, "PRESENCE_UPDATE", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("runs 4 shard"), "{e}");
    let e = client
        .request_guild_members(&MemberRequest::all(0))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ClientErrorKind::InvalidId { .. }), "{e}");
}

#[tokio::test]
async fn member_requests_route_and_collect_their_chunks() {
    let broker = Mosquitto::start().unwrap();
    let client = client(&broker, 4).await;
    let guild: u64 = 81384788765712384;
    let shard = ddiscord::shard_for_guild(guild, 4);
    let publisher = raw_publisher(&broker).await;
    // Play ingest: answer the command with two chunks, plus one chunk of another request.
    let mut commands = rumqttc_shim::subscribe(
        broker.port(),
        &format!("discord-cmd/{shard}/REQUEST_GUILD_MEMBERS"),
    )
    .await;
    let mut request = MemberRequest::all(guild);
    request.nonce = Some("n1".into());
    let mut chunks = client.request_guild_members(&request).await.unwrap();
    let command = tokio::time::timeout(Duration::from_secs(10), commands.next())
        .await
        .unwrap()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&command).unwrap();
    assert_eq!(d["guild_id"], guild.to_string());
    assert_eq!(d["nonce"], "n1");
    assert_eq!(d["query"], "");
    let topic = format!("discord/{shard}/{guild}/GUILD_MEMBERS_CHUNK");
    for (nonce, index) in [("other", 0), ("n1", 0), ("n1", 1)] {
        let frame = format!(
            r#"{{"op":0,"t":"GUILD_MEMBERS_CHUNK","s":{index},"d":{{"guild_id":"{guild}","members":[],"chunk_index":{index},"chunk_count":2,"nonce":"{nonce}"}}}}"#
        );
        publisher
            .publish(&topic, envelope(frame.as_bytes(), shard, "s"))
            .await;
    }
    let mut got = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), chunks.next())
        .await
        .unwrap()
    {
        got.push(chunk.unwrap().json().unwrap()["chunk_index"].clone());
    }
    assert_eq!(got, [0, 1]);
}

/// Discord's refusal of a member request, a RATE_LIMITED dispatch on the no-guild level with
/// the request's nonce in `meta`, ends the chunk stream with a typed error; one for another
/// nonce is ignored.
#[tokio::test]
async fn a_rate_limited_member_request_ends_with_a_typed_error() {
    let broker = Mosquitto::start().unwrap();
    let client = client(&broker, 4).await;
    let guild: u64 = 81384788765712384;
    let shard = ddiscord::shard_for_guild(guild, 4);
    let publisher = raw_publisher(&broker).await;
    let mut commands = rumqttc_shim::subscribe(
        broker.port(),
        &format!("discord-cmd/{shard}/REQUEST_GUILD_MEMBERS"),
    )
    .await;
    let mut request = MemberRequest::all(guild);
    request.nonce = Some("n2".into());
    let mut chunks = client.request_guild_members(&request).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), commands.next())
        .await
        .unwrap()
        .unwrap();
    let topic = format!("discord/{shard}/-/RATE_LIMITED");
    for nonce in ["other", "n2"] {
        let frame = format!(
            r#"{{"op":0,"t":"RATE_LIMITED","s":1,"d":{{"opcode":8,"retry_after":12.3456,"meta":{{"guild_id":"{guild}","nonce":"{nonce}"}}}}}}"#
        );
        publisher
            .publish(&topic, envelope(frame.as_bytes(), shard, "s"))
            .await;
    }
    let e = tokio::time::timeout(Duration::from_secs(10), chunks.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        e.kind(),
        &ClientErrorKind::RateLimited {
            message:
                "Discord rate-limited REQUEST_GUILD_MEMBERS with nonce n2: retry after 12346 ms"
                    .into(),
            retry_after_ms: Some(12_346),
        }
    );
    assert_eq!(e.error_kind().code(), "RATE_LIMITED");
    assert!(chunks.next().await.is_none(), "the stream ends");
}

#[tokio::test]
async fn work_queue_retries_then_dead_letters() {
    use ddiscord::client::QueueOptions;
    let broker = Mosquitto::start().unwrap();
    let redis = ddiscord_testkit::RedisServer::start().unwrap();
    let mut config = ClientConfig::new(broker.url(), redis.url());
    config.shards = Some(2);
    let client = Client::connect(config).await.unwrap();
    let options = QueueOptions {
        max_deliveries: 2,
        retry_delay: Duration::from_millis(50),
        lease_ttl: Duration::from_secs(2),
    };
    let mut queue = client
        .consume_with("retry-test", "discord/*/*/TYPING_START", options)
        .await
        .unwrap();
    let mut dead = rumqttc_shim::subscribe(broker.port(), "discord-dead/retry-test/#").await;
    let publisher = raw_publisher(&broker).await;
    let frame =
        br#"{"op":0,"t":"TYPING_START","s":7,"d":{"channel_id":"1","user_id":"2","timestamp":1}}"#;
    publisher
        .publish("discord/1/-/TYPING_START", envelope(frame, 1, "s"))
        .await;
    publisher
        .publish("discord/0/-/TYPING_START", envelope(frame, 0, "ok"))
        .await;
    let mut seen = Vec::new();
    // Shard 1's job is nacked twice (then dead-lettered), shard 0's is acked.
    while seen.len() < 3 {
        let job = tokio::time::timeout(Duration::from_secs(10), queue.next())
            .await
            .expect("a job arrives")
            .expect("the queue is open");
        assert_eq!(job.event().name(), "TYPING_START");
        seen.push((job.partition(), job.deliveries()));
        if job.partition() == 1 {
            job.nack().unwrap();
        } else {
            job.ack().await.unwrap();
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, [(0, 1), (1, 1), (1, 2)]);
    let dead_letter = tokio::time::timeout(Duration::from_secs(10), dead.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&dead_letter[..], &envelope(frame, 1, "s")[..]);
    let e = client.consume("bad name!", "discord/>").await.unwrap_err();
    assert!(matches!(e.kind(), ClientErrorKind::Group { .. }), "{e}");
    queue.close().await.unwrap();
}

/// Without `DDISCORD_SHARDS` the client routes with the shard count ingest recorded in Redis;
/// a contradicting explicit count is refused at connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_count_comes_from_the_recorded_topology() {
    let broker = Mosquitto::start().unwrap();
    let redis_server = ddiscord_testkit::RedisServer::start().unwrap();
    let mut conn = redis::Client::open(redis_server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    ddiscord::coord::Topology {
        shards: 3,
        max_concurrency: 1,
        gateway_url: "ws://127.0.0.1:1".into(),
    }
    .record(&mut conn, "dd:")
    .await
    .unwrap();
    let config = ClientConfig::new(broker.url(), redis_server.url());
    let client = Client::connect(config.clone()).await.unwrap();
    assert_eq!(client.shards(), 3);
    let guild: u64 = 81384788765712384;
    assert_eq!(client.shard_for(guild), ((guild >> 22) % 3) as u32);
    let mut explicit = config;
    explicit.shards = Some(2);
    let e = Client::connect(explicit).await.unwrap_err();
    assert!(matches!(e.kind(), ClientErrorKind::Config { .. }), "{e}");
    assert!(e.to_string().contains("recorded 3"), "{e}");
}
