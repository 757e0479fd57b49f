//! The REST routes a stock client calls at login, checked with twilight-http (a stock Discord
//! REST client, pointed at the simulator as its proxy) and with plain HTTP requests for
//! Discord's error shapes and rate-limit headers.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use ddiscord_sim::{ClockMode, SimConfig, SimHandle, Simulator};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start() -> SimHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Simulator::start(SimConfig {
        guilds: 3,
        clock: ClockMode::Manual,
        // GUILD_MEMBERS and MESSAGE_CONTENT.
        privileged_intents: (1 << 1) | (1 << 15),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// Status, lower-cased headers and JSON body of one plain HTTP/1.1 request.
async fn get(sim: &SimHandle, path: &str, auth: Option<&str>) -> (u16, String, Value) {
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: sim\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_stock_rest_client_logs_in() {
    let sim = start().await;
    let http = twilight_http::Client::builder()
        .token("sim-token".to_owned())
        .proxy(sim.addr().to_string(), true)
        .build();
    let me = http.current_user().await.unwrap().model().await.unwrap();
    assert_eq!(me.name, "ddiscord-sim");
    assert!(me.bot);
    let app = http
        .current_user_application()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(
        app.id.get(),
        me.id.get(),
        "the application and its bot share the id"
    );
    // GATEWAY_GUILD_MEMBERS and GATEWAY_MESSAGE_CONTENT, for the intents enabled.
    let flags = app.flags.unwrap().bits();
    assert_eq!(flags, (1 << 14) | (1 << 18));
    let bot = http
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(bot.url, sim.ws_url());

    let wrong = twilight_http::Client::builder()
        .token("not-the-token".to_owned())
        .proxy(sim.addr().to_string(), true)
        .build();
    let e = wrong.current_user().await.unwrap_err();
    let twilight_http::error::ErrorType::Response { status, .. } = e.kind() else {
        panic!("expected Discord's 401 response, got {e:?}");
    };
    assert_eq!(status.get(), 401);
}

#[tokio::test]
async fn errors_and_headers_have_discords_shapes() {
    let sim = start().await;
    let (status, head, body) = get(&sim, "/api/v10/users/@me", Some("Bot sim-token")).await;
    assert_eq!(status, 200);
    for header in [
        "x-ratelimit-limit:",
        "x-ratelimit-remaining:",
        "x-ratelimit-reset:",
        "x-ratelimit-reset-after:",
        "x-ratelimit-bucket:",
    ] {
        assert!(head.contains(header), "{header} missing in {head}");
    }
    assert_eq!(body["username"], "ddiscord-sim");
    let (status, _, body) = get(&sim, "/api/v10/oauth2/applications/@me", None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        serde_json::json!({"message": "401: Unauthorized", "code": 0})
    );
    let (status, _, body) = get(&sim, "/api/v10/applications/@me", Some("Bot sim-token")).await;
    assert_eq!(status, 200);
    assert_eq!(body["bot"]["username"], "ddiscord-sim");
    assert_eq!(body["approximate_guild_count"], 3);
    let (status, _, body) = get(&sim, "/api/v10/channels/1/messages", Some("Bot sim-token")).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"message": "404: Not Found", "code": 0})
    );
}
