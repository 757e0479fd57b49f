//! The simulator against a hand-driven tokio-tungstenite client: both transport compressions,
//! Discord's close codes for bad input, RESUME refusals and the HTTP endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::time::Duration;

use ddiscord_sim::{ClockMode, ConnCommand, SimConfig, SimHandle, Simulator};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

const WAIT: Duration = Duration::from_secs(10);

enum Inflate {
    None,
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
    Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
}

struct Raw {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    inflate: Inflate,
}

#[derive(Debug)]
enum Got {
    Json(Value),
    Close(u16),
    End,
}

impl Got {
    fn op(&self) -> Option<u64> {
        match self {
            Got::Json(v) => v["op"].as_u64(),
            _ => None,
        }
    }
}

async fn start(cfg: SimConfig) -> SimHandle {
    Simulator::start(SimConfig {
        guilds: 2,
        clock: ClockMode::Manual,
        ..cfg
    })
    .await
    .unwrap()
}

impl Raw {
    async fn connect(sim: &SimHandle, query: &str) -> Self {
        let (ws, _) = connect_async(format!("{}/{query}", sim.ws_url()))
            .await
            .unwrap();
        let inflate = if query.contains("zlib-stream") {
            Inflate::Zlib(flate2::write::ZlibDecoder::new(Vec::new()))
        } else if query.contains("zstd-stream") {
            Inflate::Zstd(zstd::stream::write::Decoder::new(Vec::new()).unwrap())
        } else {
            Inflate::None
        };
        Self { ws, inflate }
    }

    async fn plain(sim: &SimHandle) -> Self {
        Self::connect(sim, "?v=10&encoding=json").await
    }

    async fn recv(&mut self) -> Got {
        loop {
            let msg = match timeout(WAIT, self.ws.next())
                .await
                .expect("nothing received")
            {
                None | Some(Err(_)) => return Got::End,
                Some(Ok(m)) => m,
            };
            match msg {
                Message::Text(t) => {
                    assert!(
                        matches!(self.inflate, Inflate::None),
                        "text frame on a compressed connection"
                    );
                    return Got::Json(serde_json::from_str(t.as_str()).unwrap());
                }
                Message::Binary(b) => {
                    let text = match &mut self.inflate {
                        Inflate::None => panic!("binary frame on an uncompressed connection"),
                        Inflate::Zlib(d) => {
                            assert!(
                                b.ends_with(&[0, 0, 0xff, 0xff]),
                                "zlib frame without sync flush suffix"
                            );
                            d.write_all(&b).unwrap();
                            d.flush().unwrap();
                            std::mem::take(d.get_mut())
                        }
                        Inflate::Zstd(d) => {
                            d.write_all(&b).unwrap();
                            d.flush().unwrap();
                            std::mem::take(d.get_mut())
                        }
                    };
                    return Got::Json(serde_json::from_slice(&text).unwrap());
                }
                Message::Close(f) => return Got::Close(f.map_or(1005, |f| u16::from(f.code))),
                _ => {}
            }
        }
    }

    async fn until(&mut self, pred: impl Fn(&Got) -> bool) -> Vec<Got> {
        let mut out = Vec::new();
        loop {
            let g = self.recv().await;
            let done = pred(&g) || matches!(g, Got::End | Got::Close(_));
            out.push(g);
            if done {
                return out;
            }
        }
    }

    async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn send_raw(&mut self, m: Message) {
        let _ = self.ws.send(m).await;
    }

    async fn close_code(&mut self) -> u16 {
        loop {
            match self.recv().await {
                Got::Close(c) => return c,
                Got::End => return 0,
                Got::Json(_) => {}
            }
        }
    }
}

fn identify(shard: Option<[u32; 2]>, intents: u64) -> Value {
    let mut d = json!({"token": "sim-token", "intents": intents,
        "properties": {"os": "linux", "browser": "test", "device": "test"}});
    if let Some(s) = shard {
        d["shard"] = json!(s);
    }
    json!({"op": 2, "d": d})
}

async fn identified(sim: &SimHandle, query: &str) -> (Raw, Vec<Got>) {
    let mut c = Raw::connect(sim, query).await;
    let hello = c.recv().await;
    assert_eq!(hello.op(), Some(10));
    c.send(identify(Some([0, 1]), 513)).await;
    let seen = c
        .until(|g| matches!(g, Got::Json(v) if v["t"] == "GUILD_CREATE"))
        .await;
    (c, seen)
}

#[tokio::test]
async fn uncompressed_zlib_and_zstd_streams() {
    let sim = start(SimConfig::default()).await;
    for query in [
        "?v=10&encoding=json",
        "?v=10&encoding=json&compress=zlib-stream",
        "?v=10&encoding=json&compress=zstd-stream",
    ] {
        sim.advance(Duration::from_secs(5));
        let (mut c, seen) = identified(&sim, query).await;
        assert!(
            seen.iter()
                .any(|g| matches!(g, Got::Json(v) if v["t"] == "READY")),
            "{query}"
        );
        // Many messages through the same compression context.
        for i in 0..50 {
            sim.dispatch(
                0,
                "MESSAGE_DELETE",
                &json!({"id": i.to_string(), "channel_id": "1", "guild_id": "2"}),
            )
            .unwrap();
        }
        let got = c
            .until(|g| matches!(g, Got::Json(v) if v["d"]["id"] == "49"))
            .await;
        assert!(got.len() >= 50, "{query}");
        c.send(json!({"op": 1, "d": 3})).await;
        c.until(|g| g.op() == Some(11)).await;
    }
}

#[tokio::test]
async fn message_content_is_empty_without_the_intent() {
    let sim = start(SimConfig::default()).await;
    // 513 = GUILDS | GUILD_MESSAGES, no MESSAGE_CONTENT.
    let (mut c, _) = identified(&sim, "?v=10&encoding=json").await;
    let d = json!({"id": "5", "channel_id": "1", "guild_id": "2", "content": "secret", "embeds": [{"title": "x"}]});
    sim.dispatch(0, "MESSAGE_CREATE", &d).unwrap();
    let seen = c
        .until(|g| matches!(g, Got::Json(v) if v["t"] == "MESSAGE_CREATE"))
        .await;
    let Some(Got::Json(v)) = seen.last() else {
        panic!()
    };
    assert_eq!(v["d"]["content"], "");
    assert_eq!(v["d"]["embeds"], json!([]));
    assert_eq!(v["d"]["id"], "5");
}

#[tokio::test]
async fn bad_input_gets_discords_close_codes() {
    let sim = start(SimConfig {
        shards: 2,
        privileged_intents: 0,
        ..SimConfig::default()
    })
    .await;
    // Not JSON.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send_raw(Message::text("{not json")).await;
    assert_eq!(c.close_code().await, 4002);
    // Binary garbage on a JSON connection.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send_raw(Message::binary(vec![0xff, 0x00, 0x13])).await;
    assert_eq!(c.close_code().await, 4002);
    // A text frame that is not UTF-8, written by hand (FIN + text opcode, masked).
    {
        let mut tcp = TcpStream::connect(sim.addr()).await.unwrap();
        let req = "GET /?v=10&encoding=json HTTP/1.1\r\nHost: sim\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"));
        let payload = [0xffu8, 0xfe, 0xfd];
        let mut frame = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(&payload);
        tcp.write_all(&frame).await.unwrap();
        let mut all = Vec::new();
        let _ = timeout(WAIT, tcp.read_to_end(&mut all)).await;
        // Somewhere after HELLO comes a close frame (0x88) carrying 4002 (0x0fa2).
        let close = all
            .windows(4)
            .any(|w| w[0] == 0x88 && w[2] == 0x0f && w[3] == 0xa2);
        assert!(close, "no 4002 close frame in {all:?}");
    }
    // Oversized payload.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(json!({"op": 1, "d": "x".repeat(5000)})).await;
    assert_eq!(c.close_code().await, 4002);
    // Unknown opcode.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(json!({"op": 99, "d": null})).await;
    assert_eq!(c.close_code().await, 4001);
    // IDENTIFY with a missing field.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(json!({"op": 2, "d": {"token": "sim-token"}})).await;
    assert_eq!(c.close_code().await, 4002);
    // A command before IDENTIFY.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(
        json!({"op": 3, "d": {"since": null, "activities": [], "status": "online", "afk": false}}),
    )
    .await;
    assert_eq!(c.close_code().await, 4003);
    // Bad token.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    let mut id = identify(Some([0, 2]), 1);
    id["d"]["token"] = json!("nope");
    c.send(id).await;
    assert_eq!(c.close_code().await, 4004);
    // Invalid shard.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(identify(Some([2, 2]), 1)).await;
    assert_eq!(c.close_code().await, 4010);
    // Sharding required (2 shards served, none given).
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(identify(None, 1)).await;
    assert_eq!(c.close_code().await, 4011);
    // Invalid API version.
    let mut c = Raw::connect(&sim, "?v=6&encoding=json").await;
    assert_eq!(c.close_code().await, 4012);
    // Invalid intents.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(identify(Some([0, 2]), 1 << 40)).await;
    assert_eq!(c.close_code().await, 4013);
    // Disallowed (privileged) intents.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(identify(Some([0, 2]), 1 << 1)).await;
    assert_eq!(c.close_code().await, 4014);
    // Already authenticated.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(identify(Some([0, 2]), 1)).await;
    c.until(|g| matches!(g, Got::Json(v) if v["t"] == "READY"))
        .await;
    c.send(identify(Some([0, 2]), 1)).await;
    assert_eq!(c.close_code().await, 4005);
    // Rate limited: more than 120 commands in 60 s.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    for _ in 0..121 {
        c.send_raw(Message::text(r#"{"op":1,"d":null}"#)).await;
    }
    assert_eq!(c.close_code().await, 4008);
    // The simulator is still alive.
    let mut c = Raw::plain(&sim).await;
    assert_eq!(c.recv().await.op(), Some(10));
}

#[tokio::test]
async fn missed_heartbeats_close_4009() {
    let sim = start(SimConfig {
        heartbeat_interval_ms: 50,
        ..SimConfig::default()
    })
    .await;
    let mut c = Raw::plain(&sim).await;
    assert_eq!(c.close_code().await, 4009);
}

#[tokio::test]
async fn server_requests_a_heartbeat_with_op_1() {
    let sim = start(SimConfig::default()).await;
    let (mut c, _) = identified(&sim, "?v=10&encoding=json").await;
    assert_eq!(sim.command(0, ConnCommand::RequestHeartbeat).unwrap(), 1);
    c.until(|g| g.op() == Some(1)).await;
    let sid = sim.record().connections[0].session_id.clone();
    assert_eq!(sim.command_session(&sid, ConnCommand::RequestHeartbeat), 1);
    c.until(|g| g.op() == Some(1)).await;
    assert_eq!(
        sim.command_session("nope", ConnCommand::RequestHeartbeat),
        0
    );
}

#[tokio::test]
async fn replay_file_into_a_live_session() {
    let sim = start(SimConfig::default()).await;
    let (mut c, _) = identified(&sim, "?v=10&encoding=json").await;
    let dir = ddiscord_sim::fixtures::locate(None).unwrap();
    // 23 envelopes: READY, HELLO and the two ACKs are skipped; GUILD_MEMBER_UPDATE and
    // VOICE_STATE_UPDATE need intents that this session (513) lacks; undocumented events pass.
    let n = sim.replay_file(&dir.join("events_v10.jsonl"), 0).unwrap();
    assert!(n >= 10, "{n}");
    let seen = c
        .until(|g| matches!(g, Got::Json(v) if v["t"] == "VOICE_CHANNEL_STATUS_UPDATE"))
        .await;
    assert!(!seen.is_empty());
}

#[tokio::test]
async fn resume_refusals() {
    let sim = start(SimConfig {
        resume_buffer: 8,
        resume_window_ms: 60_000,
        ..SimConfig::default()
    })
    .await;
    // Unknown session.
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(json!({"op": 6, "d": {"token": "sim-token", "session_id": "nope", "seq": 1}}))
        .await;
    let seen = c.until(|g| g.op() == Some(9)).await;
    assert!(matches!(seen.last(), Some(Got::Json(v)) if v["d"] == false));

    // A session that missed more than its buffer holds.
    let (c, seen) = identified(&sim, "?v=10&encoding=json").await;
    let sid = seen
        .iter()
        .find_map(|g| match g {
            Got::Json(v) if v["t"] == "READY" => Some(v["d"]["session_id"].clone()),
            _ => None,
        })
        .unwrap();
    drop(c);
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..20 {
        sim.dispatch(
            0,
            "MESSAGE_DELETE",
            &json!({"id": i.to_string(), "channel_id": "1", "guild_id": "2"}),
        )
        .unwrap();
    }
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(json!({"op": 6, "d": {"token": "sim-token", "session_id": sid, "seq": 2}}))
        .await;
    let seen = c.until(|g| g.op() == Some(9)).await;
    assert!(matches!(seen.last(), Some(Got::Json(v)) if v["d"] == false));

    // A session disconnected for longer than the resume window.
    sim.advance(Duration::from_secs(5));
    let (c, seen) = identified(&sim, "?v=10&encoding=json").await;
    let last = seen
        .iter()
        .filter_map(|g| match g {
            Got::Json(v) => v["s"].as_u64(),
            _ => None,
        })
        .max()
        .unwrap();
    let sid = seen
        .iter()
        .find_map(|g| match g {
            Got::Json(v) if v["t"] == "READY" => Some(v["d"]["session_id"].clone()),
            _ => None,
        })
        .unwrap();
    drop(c);
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.advance(Duration::from_secs(61));
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(json!({"op": 6, "d": {"token": "sim-token", "session_id": sid, "seq": last}}))
        .await;
    let seen = c.until(|g| g.op() == Some(9)).await;
    assert!(matches!(seen.last(), Some(Got::Json(v)) if v["d"] == false));
    let counts = sim.shard_counts(0).unwrap();
    assert_eq!(counts.resumes, 0);
    assert!(counts.refused_resumes >= 2);
}

#[tokio::test]
async fn resume_replays_missed_dispatches_then_resumed() {
    let sim = start(SimConfig::default()).await;
    let (c, seen) = identified(&sim, "?v=10&encoding=json").await;
    let sid = seen
        .iter()
        .find_map(|g| match g {
            Got::Json(v) if v["t"] == "READY" => Some(v["d"]["session_id"].clone()),
            _ => None,
        })
        .unwrap();
    let last = seen
        .iter()
        .filter_map(|g| match g {
            Got::Json(v) => v["s"].as_u64(),
            _ => None,
        })
        .max()
        .unwrap();
    drop(c);
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..5 {
        sim.dispatch(
            0,
            "MESSAGE_DELETE",
            &json!({"id": i.to_string(), "channel_id": "1", "guild_id": "2"}),
        )
        .unwrap();
    }
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(json!({"op": 6, "d": {"token": "Bot sim-token", "session_id": sid, "seq": last}}))
        .await;
    let seen = c
        .until(|g| matches!(g, Got::Json(v) if v["t"] == "RESUMED"))
        .await;
    let seqs: Vec<u64> = seen
        .iter()
        .filter_map(|g| match g {
            Got::Json(v) => v["s"].as_u64(),
            _ => None,
        })
        .collect();
    // Everything after `last` (the second GUILD_CREATE the client never read included), in
    // order, then RESUMED.
    let want: Vec<u64> = (last + 1..=last + seqs.len() as u64).collect();
    assert_eq!(seqs, want);
    let deletes = seen
        .iter()
        .filter(|g| matches!(g, Got::Json(v) if v["t"] == "MESSAGE_DELETE"))
        .count();
    assert_eq!(deletes, 5);
    let rec = sim.record();
    assert_eq!(
        rec.dispatches.iter().filter(|d| d.replayed).count(),
        seqs.len() - 1
    );
    assert_eq!(sim.shard_counts(0).unwrap().resumes, 1);
}

async fn http(sim: &SimHandle, method: &str, path: &str, auth: Option<&str>) -> (u16, Value) {
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: sim\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    // Bodies are small and not chunked (axum sets Content-Length for JSON).
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn gateway_bot_and_control_endpoints() {
    let sim = start(SimConfig {
        shards: 2,
        max_concurrency: 2,
        session_start_total: 10,
        ..SimConfig::default()
    })
    .await;
    let (status, _) = http(&sim, "GET", "/api/v10/gateway/bot", None).await;
    assert_eq!(status, 401);
    let (status, v) = http(&sim, "GET", "/api/v10/gateway/bot", Some("Bot sim-token")).await;
    assert_eq!(status, 200);
    assert_eq!(v["url"], sim.ws_url());
    assert_eq!(v["shards"], 2);
    assert_eq!(v["session_start_limit"]["max_concurrency"], 2);
    assert_eq!(v["session_start_limit"]["remaining"], 10);

    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    c.send(identify(Some([1, 2]), 513)).await;
    c.until(|g| matches!(g, Got::Json(v) if v["t"] == "READY"))
        .await;
    let (_, v) = http(&sim, "GET", "/api/v10/gateway/bot", Some("Bot sim-token")).await;
    assert_eq!(v["session_start_limit"]["remaining"], 9);

    let (status, v) = http(&sim, "POST", "/control/reconnect?shard=1", None).await;
    assert_eq!((status, v["connections"].clone()), (200, json!(1)));
    c.until(|g| g.op() == Some(7)).await;
    let (status, _) = http(&sim, "POST", "/control/reconnect?shard=7", None).await;
    assert_eq!(status, 404);
    let (status, v) = http(
        &sim,
        "POST",
        "/control/invalidate?shard=1&resumable=true",
        None,
    )
    .await;
    assert_eq!((status, v["connections"].clone()), (200, json!(1)));
    let seen = c.until(|g| g.op() == Some(9)).await;
    assert!(matches!(seen.last(), Some(Got::Json(v)) if v["d"] == true));
    let (status, _) = http(&sim, "POST", "/control/rate?events_per_sec=5", None).await;
    assert_eq!(status, 200);
    let (_, v) = http(&sim, "POST", "/control/advance?ms=1500", None).await;
    assert_eq!(v["now_ms"], 1500);
    let (status, v) = http(&sim, "GET", "/control/record", None).await;
    assert_eq!(status, 200);
    assert!(
        v["dispatches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["event"] == "READY")
    );
    assert_eq!(v["shards"][1]["identifies"], 1);
    let sid = v["connections"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = http(
        &sim,
        "POST",
        &format!("/control/heartbeat?session={sid}"),
        None,
    )
    .await;
    assert_eq!(
        (status, v["connections"].clone()),
        (200, json!(0)),
        "session was invalidated"
    );
    let (status, _) = http(&sim, "POST", "/control/drop", None).await;
    assert_eq!(status, 400);
    let (status, _) = http(&sim, "POST", "/control/drop?shard=1", None).await;
    assert_eq!(status, 200);
    assert!(matches!(c.recv().await, Got::End | Got::Close(_)));
}

/// The `d` of the next `n` GUILD_CREATEs.
async fn guild_creates(c: &mut Raw, n: usize) -> Vec<Value> {
    let mut creates = Vec::new();
    while creates.len() < n {
        if let Some(Got::Json(v)) = c
            .until(|g| matches!(g, Got::Json(v) if v["t"] == "GUILD_CREATE"))
            .await
            .pop()
        {
            creates.push(v["d"].clone());
        }
    }
    creates
}

/// Every GUILD_MEMBERS_CHUNK up to the one with the last `chunk_index`.
async fn member_chunks(c: &mut Raw) -> Vec<Value> {
    let mut chunks = Vec::new();
    loop {
        let got = c
            .until(|g| matches!(g, Got::Json(v) if v["t"] == "GUILD_MEMBERS_CHUNK"))
            .await;
        let Some(Got::Json(v)) = got.last() else {
            panic!("the connection ended before a chunk: {got:?}");
        };
        let d = v["d"].clone();
        let last = d["chunk_index"].as_u64().unwrap() + 1 == d["chunk_count"].as_u64().unwrap();
        chunks.push(d);
        if last {
            return chunks;
        }
    }
}

#[tokio::test]
async fn request_guild_members_is_answered_in_chunks() {
    let sim = Simulator::start(SimConfig {
        guilds: 1,
        large_guild: true,
        clock: ClockMode::Manual,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    // GUILDS | GUILD_MEMBERS | GUILD_PRESENCES.
    c.send(identify(None, 1 | (1 << 1) | (1 << 8))).await;
    let creates = guild_creates(&mut c, 2).await;
    let large = creates
        .iter()
        .max_by_key(|d| d["members"].as_array().unwrap().len())
        .unwrap()
        .clone();
    let gid = large["id"].as_str().unwrap().to_owned();
    // large_threshold 50 (the default): the GUILD_CREATE left the offline members out.
    assert_eq!(large["large"], true);
    let members = large["members"].as_array().unwrap();
    let member_count = large["member_count"].as_u64().unwrap() as usize;
    assert!(members.len() < member_count);

    // Every member, in chunks of at most 1,000, the nonce echoed.
    c.send(json!({"op": 8, "d": {"guild_id": gid, "query": "", "limit": 0, "nonce": "all-1"}}))
        .await;
    let chunks = member_chunks(&mut c).await;
    assert_eq!(chunks.len(), member_count.div_ceil(1000));
    let mut got = 0;
    for (i, ch) in chunks.iter().enumerate() {
        assert_eq!(ch["chunk_index"], i);
        assert_eq!(ch["nonce"], "all-1");
        assert_eq!(ch["guild_id"], gid.as_str());
        assert!(ch["members"].as_array().unwrap().len() <= 1000);
        assert!(ch.get("presences").is_none(), "presences only when asked");
        got += ch["members"].as_array().unwrap().len();
    }
    assert_eq!(got, member_count, "every member, offline ones too");

    // By id: the members found, the others in not_found; presences when asked.
    let some = members[5]["user"]["id"].as_str().unwrap().to_owned();
    c.send(
        json!({"op": 8, "d": {"guild_id": gid, "user_ids": [some, "1"], "presences": true,
        "nonce": "x".repeat(40)}}),
    )
    .await;
    let ch = member_chunks(&mut c).await.remove(0);
    assert_eq!(ch["members"].as_array().unwrap().len(), 1);
    assert_eq!(ch["members"][0]["user"]["id"], some.as_str());
    assert_eq!(ch["not_found"], json!(["1"]));
    assert!(ch["presences"].is_array());
    assert!(
        ch.get("nonce").is_none(),
        "a nonce over 32 bytes is ignored"
    );

    // A username prefix, at most `limit` (capped at 100).
    let name = members[7]["user"]["username"].as_str().unwrap();
    let prefix: String = name.chars().take(2).collect::<String>().to_uppercase();
    c.send(json!({"op": 8, "d": {"guild_id": gid, "query": prefix, "limit": 500}}))
        .await;
    let ch = member_chunks(&mut c).await.remove(0);
    let found = ch["members"].as_array().unwrap();
    assert!(!found.is_empty() && found.len() <= 100, "{}", found.len());
    for m in found {
        let n = m["user"]["username"].as_str().unwrap().to_lowercase();
        assert!(
            n.starts_with(&prefix.to_lowercase()),
            "{n} does not start with {prefix}"
        );
    }

    // Neither query nor user_ids: Discord's 4002.
    c.send(json!({"op": 8, "d": {"guild_id": gid}})).await;
    assert_eq!(c.close_code().await, 4002);
}

/// The next dispatch answering a member request: a GUILD_MEMBERS_CHUNK or a RATE_LIMITED.
async fn member_answer(c: &mut Raw) -> Value {
    let got = c
        .until(|g| matches!(g, Got::Json(v) if v["t"] == "GUILD_MEMBERS_CHUNK" || v["t"] == "RATE_LIMITED"))
        .await;
    match got.last() {
        Some(Got::Json(v)) => v.clone(),
        other => panic!("the connection ended before an answer: {other:?}"),
    }
}

/// Discord's rules for opcode 8
/// (<https://discord.com/developers/docs/events/gateway-events#request-guild-members>): every
/// member needs GUILD_MEMBERS (unanswered without it), presences need GUILD_PRESENCES (left
/// out without it), at most 100 `user_ids` (4002), and one request for every member per guild
/// per 30 s, the next answered with RATE_LIMITED
/// (<https://discord.com/developers/docs/events/gateway-events#rate-limited>).
#[tokio::test]
async fn request_guild_members_follows_discords_limits() {
    let sim = Simulator::start(SimConfig {
        guilds: 1,
        large_guild: true,
        clock: ClockMode::Manual,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // Answers come in request order, so a request that is answered after one that is not
    // shows that the first got no answer.
    let by_id = |gid: &str, id: &str, nonce: &str| json!({"op": 8, "d": {"guild_id": gid, "user_ids": [id], "presences": true, "nonce": nonce}});

    // GUILDS only: no GUILD_MEMBERS, no GUILD_PRESENCES.
    let mut plain = Raw::plain(&sim).await;
    plain.recv().await;
    plain.send(identify(None, 1)).await;
    let creates = guild_creates(&mut plain, 2).await;
    let large = creates
        .iter()
        .max_by_key(|d| d["member_count"].as_u64().unwrap())
        .unwrap()
        .clone();
    let gid = large["id"].as_str().unwrap().to_owned();
    let other = creates.iter().find(|d| d["id"] != large["id"]).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = large["members"][0]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    plain
        .send(json!({"op": 8, "d": {"guild_id": gid, "query": "", "limit": 0, "nonce": "all"}}))
        .await;
    plain
        .send(json!({"op": 8, "d": {"guild_id": gid, "query": "", "limit": 5, "nonce": "five"}}))
        .await;
    plain.send(by_id(&gid, &member, "by-id")).await;
    let answer = member_answer(&mut plain).await;
    assert_eq!(answer["t"], "GUILD_MEMBERS_CHUNK");
    assert_eq!(
        answer["d"]["nonce"], "by-id",
        "every member without GUILD_MEMBERS is not answered"
    );
    assert_eq!(answer["d"]["members"][0]["user"]["id"], member.as_str());
    assert!(
        answer["d"].get("presences").is_none(),
        "presences: true without GUILD_PRESENCES counts as false"
    );

    // With both intents (a new IDENTIFY, 5 s later for max_concurrency): every member, then
    // RATE_LIMITED for the same guild within 30 s.
    sim.advance(Duration::from_secs(5));
    let mut full = Raw::plain(&sim).await;
    full.recv().await;
    full.send(identify(None, 1 | (1 << 1) | (1 << 8))).await;
    guild_creates(&mut full, 2).await;
    let all = |g: &str, nonce: &str| json!({"op": 8, "d": {"guild_id": g, "query": "", "limit": 0, "nonce": nonce}});
    full.send(all(&gid, "first")).await;
    let chunks = member_chunks(&mut full).await;
    assert!(chunks.iter().all(|c| c["nonce"] == "first"));
    let total: usize = chunks
        .iter()
        .map(|c| c["members"].as_array().unwrap().len())
        .sum();
    assert_eq!(total as u64, large["member_count"].as_u64().unwrap());

    full.send(all(&gid, "second")).await;
    full.send(by_id(&gid, &member, "after")).await;
    let limited = member_answer(&mut full).await;
    assert_eq!(limited["op"], 0);
    assert_eq!(limited["t"], "RATE_LIMITED");
    assert!(limited["s"].is_u64());
    assert_eq!(
        limited["d"],
        json!({"opcode": 8, "retry_after": 30.0, "meta": {"guild_id": gid, "nonce": "second"}})
    );
    let next = member_answer(&mut full).await;
    assert_eq!(
        next["d"]["nonce"], "after",
        "a refused request gets no chunks"
    );
    assert!(next["d"]["presences"].is_array());

    // The limit is per guild: another guild's members are answered; without a nonce, the
    // RATE_LIMITED meta has none either.
    full.send(all(&other, "other")).await;
    assert!(
        member_chunks(&mut full)
            .await
            .iter()
            .all(|c| c["nonce"] == "other")
    );
    sim.advance(Duration::from_secs(10));
    full.send(json!({"op": 8, "d": {"guild_id": gid, "query": "", "limit": 0}}))
        .await;
    let limited = member_answer(&mut full).await;
    assert_eq!(
        limited["d"],
        json!({"opcode": 8, "retry_after": 20.0, "meta": {"guild_id": gid}})
    );
    // 30 s after the answered request, the guild can be asked again.
    sim.advance(Duration::from_secs(20));
    full.send(all(&gid, "again")).await;
    let again = member_answer(&mut full).await;
    assert_eq!(again["t"], "GUILD_MEMBERS_CHUNK");
    assert_eq!(again["d"]["nonce"], "again");

    // More than 100 user_ids: 4002.
    let ids: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    full.send(json!({"op": 8, "d": {"guild_id": gid, "user_ids": ids}}))
        .await;
    assert_eq!(full.close_code().await, 4002);
}

#[tokio::test]
async fn presence_and_voice_updates_come_back_as_dispatches() {
    let sim = start(SimConfig::default()).await;
    let mut c = Raw::plain(&sim).await;
    c.recv().await;
    // GUILDS | GUILD_VOICE_STATES | GUILD_PRESENCES.
    c.send(identify(None, 1 | (1 << 7) | (1 << 8))).await;
    let creates = guild_creates(&mut c, 2).await;

    // Op 3: a PRESENCE_UPDATE for the bot in every guild; invisible shows as offline.
    c.send(
        json!({"op": 3, "d": {"since": null, "status": "dnd", "afk": false,
        "activities": [{"name": "tests", "type": 0}]}}),
    )
    .await;
    let mut updated = std::collections::BTreeSet::new();
    while updated.len() < creates.len() {
        if let Some(Got::Json(v)) = c
            .until(|g| matches!(g, Got::Json(v) if v["t"] == "PRESENCE_UPDATE"))
            .await
            .pop()
        {
            assert_eq!(v["d"]["status"], "dnd");
            assert_eq!(v["d"]["activities"][0]["name"], "tests");
            updated.insert(v["d"]["guild_id"].as_str().unwrap().to_owned());
        }
    }
    c.send(
        json!({"op": 3, "d": {"since": null, "status": "invisible", "afk": false,
        "activities": []}}),
    )
    .await;
    let got = c
        .until(|g| matches!(g, Got::Json(v) if v["t"] == "PRESENCE_UPDATE"))
        .await;
    let Some(Got::Json(v)) = got.last() else {
        panic!("{got:?}")
    };
    assert_eq!(v["d"]["status"], "offline");

    // Op 4: joining a voice channel gives VOICE_STATE_UPDATE then VOICE_SERVER_UPDATE.
    let (guild, voice) = creates
        .iter()
        .find_map(|g| {
            let ch = g["channels"].as_array()?.iter().find(|c| c["type"] == 2)?;
            Some((g["id"].clone(), ch["id"].clone()))
        })
        .expect("a guild with a voice channel");
    c.send(
        json!({"op": 4, "d": {"guild_id": guild, "channel_id": voice,
        "self_mute": true, "self_deaf": false}}),
    )
    .await;
    let got = c
        .until(|g| matches!(g, Got::Json(v) if v["t"] == "VOICE_SERVER_UPDATE"))
        .await;
    let state = got
        .iter()
        .find_map(|g| match g {
            Got::Json(v) if v["t"] == "VOICE_STATE_UPDATE" => Some(v["d"].clone()),
            _ => None,
        })
        .expect("VOICE_STATE_UPDATE before VOICE_SERVER_UPDATE");
    assert_eq!(state["channel_id"], voice);
    assert_eq!(state["self_mute"], true);
    assert_eq!(state["member"]["user"]["username"], "ddiscord-sim");
    let Some(Got::Json(server)) = got.last() else {
        panic!("{got:?}")
    };
    assert_eq!(server["d"]["guild_id"], guild);
    assert!(server["d"]["token"].is_string() && server["d"]["endpoint"].is_string());

    // Leaving: a VOICE_STATE_UPDATE with channel_id null, no server update.
    c.send(json!({"op": 4, "d": {"guild_id": guild, "channel_id": null,
        "self_mute": false, "self_deaf": false}}))
        .await;
    let got = c
        .until(|g| matches!(g, Got::Json(v) if v["t"] == "VOICE_STATE_UPDATE"))
        .await;
    let Some(Got::Json(left)) = got.last() else {
        panic!("{got:?}")
    };
    assert_eq!(left["d"]["channel_id"], Value::Null);

    // A status Discord does not know: 4002.
    c.send(
        json!({"op": 3, "d": {"since": null, "status": "busy", "afk": false,
        "activities": []}}),
    )
    .await;
    assert_eq!(c.close_code().await, 4002);
}

#[tokio::test]
async fn a_client_close_frame_is_answered_with_its_code() {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCode;
    let sim = start(SimConfig::default()).await;
    for code in [1000u16, 4000] {
        // One IDENTIFY per 5 s of the (manual) clock.
        sim.advance(Duration::from_secs(6));
        let mut c = Raw::plain(&sim).await;
        c.recv().await;
        c.send(identify(None, 513)).await;
        c.until(|g| matches!(g, Got::Json(v) if v["t"] == "READY"))
            .await;
        c.ws.send(Message::Close(Some(CloseFrame {
            code: WsCode::from(code),
            reason: "bye".into(),
        })))
        .await
        .unwrap();
        // The server's answering close frame carries the client's code (RFC 6455 §5.5.1);
        // a TCP drop would end the stream without one (1006 to the client).
        assert_eq!(c.close_code().await, code);
    }
}
