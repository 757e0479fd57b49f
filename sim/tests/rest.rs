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
    assert_eq!(status, 405);
    assert_eq!(
        body,
        serde_json::json!({"message": "405: Method Not Allowed", "code": 0})
    );
    let (status, _, body) = get(&sim, "/api/v10/voice/regions", Some("Bot sim-token")).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"message": "404: Not Found", "code": 0})
    );
}

/// A simulator with the given REST limits, and a twilight-http client without its own
/// limiter, so the simulator's limits are what the tests see.
async fn start_limited(
    limits: ddiscord_sim::RestLimitConfig,
) -> (SimHandle, twilight_http::Client) {
    start_with(SimConfig {
        guilds: 2,
        clock: ClockMode::Manual,
        rest_limits: limits,
        ..SimConfig::default()
    })
    .await
}

async fn start_with(cfg: SimConfig) -> (SimHandle, twilight_http::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Simulator::start(cfg).await.unwrap();
    let http = twilight_http::Client::builder()
        .token("sim-token".to_owned())
        .proxy(sim.addr().to_string(), true)
        .ratelimiter(None)
        .build();
    (sim, http)
}

fn no_limits() -> ddiscord_sim::RestLimitConfig {
    ddiscord_sim::RestLimitConfig {
        enabled: false,
        ..ddiscord_sim::RestLimitConfig::default()
    }
}

/// Discord's JSON error code and HTTP status of a failed twilight-http request.
fn discord_error(e: &twilight_http::Error) -> (u16, u64) {
    let twilight_http::error::ErrorType::Response { status, body, .. } = e.kind() else {
        panic!("expected a response error, got {e:?}");
    };
    let v: Value = serde_json::from_slice(body).unwrap();
    (status.get(), v["code"].as_u64().unwrap())
}

type GuildIds = (
    twilight_model::id::Id<twilight_model::id::marker::GuildMarker>,
    twilight_model::id::Id<twilight_model::id::marker::ChannelMarker>,
);

/// The first guild and its first text channel.
async fn guild_and_channel(sim: &SimHandle, http: &twilight_http::Client) -> GuildIds {
    let guild = twilight_model::id::Id::new(sim.guilds_of_shard(0)[0]);
    let channels = http
        .guild_channels(guild)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let text = channels
        .iter()
        .find(|c| c.kind == twilight_model::channel::ChannelType::GuildText)
        .unwrap();
    (guild, text.id)
}

#[tokio::test]
async fn messages_are_created_edited_and_deleted() {
    let (sim, http) = start_limited(no_limits()).await;
    let (_, channel) = guild_and_channel(&sim, &http).await;
    let posted = http
        .create_message(channel)
        .content("hello")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(posted.content, "hello");
    assert_eq!(posted.author.name, "ddiscord-sim");
    let edited = http
        .update_message(channel, posted.id)
        .content(Some("edited"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.content, "edited");
    assert!(edited.edited_timestamp.is_some());
    let read = http
        .message(channel, posted.id)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(read.content, "edited");
    http.delete_message(channel, posted.id).await.unwrap();
    let gone = http.message(channel, posted.id).await.unwrap_err();
    assert_eq!(discord_error(&gone), (404, 10008));
    let again = http.delete_message(channel, posted.id).await.unwrap_err();
    assert_eq!(discord_error(&again), (404, 10008));

    let mut ids = Vec::new();
    for n in 0..3 {
        let m = http
            .create_message(channel)
            .content(&format!("bulk {n}"))
            .await
            .unwrap()
            .model()
            .await
            .unwrap();
        ids.push(m.id);
    }
    http.delete_messages(channel, &ids).await.unwrap();
    for id in ids {
        let e = http.message(channel, id).await.unwrap_err();
        assert_eq!(discord_error(&e), (404, 10008));
    }
    let unknown = twilight_model::id::Id::new(1);
    let e = http.channel(unknown).await.unwrap_err();
    assert_eq!(discord_error(&e), (404, 10003));
}

#[tokio::test]
async fn members_get_roles_timeouts_kicks_and_bans() {
    let (sim, http) = start_with(SimConfig {
        guilds: 1,
        large_guild: true,
        clock: ClockMode::Manual,
        rest_limits: no_limits(),
        ..SimConfig::default()
    })
    .await;
    // The guild with the most members.
    let mut guild = None;
    let mut most = 0;
    for g in sim.guilds_of_shard(0) {
        let id = twilight_model::id::Id::new(g);
        let n = http
            .guild_members(id)
            .limit(1000)
            .await
            .unwrap()
            .models()
            .await
            .unwrap()
            .len();
        if n > most {
            (guild, most) = (Some(id), n);
        }
    }
    let guild = guild.unwrap();
    let g = http.guild(guild).await.unwrap().model().await.unwrap();
    let role = g
        .roles
        .iter()
        .find(|r| r.id.get() != guild.get())
        .unwrap()
        .id;
    let members = http
        .guild_members(guild)
        .limit(1000)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    let me = http.current_user().await.unwrap().model().await.unwrap().id;
    let mut others = members
        .iter()
        .map(|m| m.user.id)
        .filter(|u| *u != me && u.cast() != g.owner_id);
    let (user, kicked, banned) = (
        others.next().unwrap(),
        others.next().unwrap(),
        others.next().unwrap(),
    );

    http.add_guild_member_role(guild, user, role).await.unwrap();
    let m = http
        .guild_member(guild, user)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert!(m.roles.contains(&role));
    http.remove_guild_member_role(guild, user, role)
        .await
        .unwrap();
    let m = http
        .guild_member(guild, user)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert!(!m.roles.contains(&role));

    let in_an_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let until =
        twilight_model::util::Timestamp::from_secs(i64::try_from(in_an_hour).unwrap()).unwrap();
    let m = http
        .update_guild_member(guild, user)
        .communication_disabled_until(Some(until))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(m.communication_disabled_until, Some(until));

    http.remove_guild_member(guild, kicked).await.unwrap();
    let e = http.guild_member(guild, kicked).await.unwrap_err();
    assert_eq!(discord_error(&e), (404, 10007));

    http.create_ban(guild, banned).await.unwrap();
    let e = http.guild_member(guild, banned).await.unwrap_err();
    assert_eq!(discord_error(&e), (404, 10007));
    let ban = http
        .ban(guild, banned)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(ban.user.id, banned);
    http.delete_ban(guild, banned).await.unwrap();
    let e = http.ban(guild, banned).await.unwrap_err();
    assert_eq!(discord_error(&e), (404, 10026));

    let owner = g.owner_id.cast();
    let e = http.remove_guild_member(guild, owner).await.unwrap_err();
    assert_eq!(discord_error(&e), (403, 50013));
    let e = http
        .add_guild_member_role(guild, user, twilight_model::id::Id::new(1))
        .await
        .unwrap_err();
    assert_eq!(discord_error(&e), (404, 10011));
}

#[tokio::test]
async fn interactions_are_answered_once_and_followed_up() {
    use twilight_model::http::interaction::{
        InteractionResponse, InteractionResponseData, InteractionResponseType,
    };
    let (_sim, http) = start_limited(no_limits()).await;
    let app = http
        .current_user_application()
        .await
        .unwrap()
        .model()
        .await
        .unwrap()
        .id;
    let interaction = http.interaction(app);
    let response = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some("pong".to_owned()),
            ..InteractionResponseData::default()
        }),
    };
    let id = twilight_model::id::Id::new(42);
    interaction
        .create_response(id, "tok", &response)
        .await
        .unwrap();
    let e = interaction
        .create_response(id, "tok", &response)
        .await
        .unwrap_err();
    assert_eq!(discord_error(&e), (400, 40060));
    let original = interaction
        .response("tok")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(original.content, "pong");
    let follow = interaction
        .create_followup("tok")
        .content("more")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(follow.content, "more");
    interaction.delete_followup("tok", follow.id).await.unwrap();
    let e = interaction.followup("tok", follow.id).await.unwrap_err();
    assert_eq!(discord_error(&e), (404, 10008));
    let e = interaction
        .create_followup("never-answered")
        .content("x")
        .await
        .unwrap_err();
    assert_eq!(discord_error(&e), (404, 10015));
}

#[tokio::test]
async fn route_buckets_and_the_global_limit_answer_429_as_discord() {
    let (sim, http) = start_limited(ddiscord_sim::RestLimitConfig {
        enabled: true,
        route_limit: 2,
        route_window_ms: 60_000,
        global_per_sec: 50,
    })
    .await;
    let guild = sim.guilds_of_shard(0)[0];
    let path = format!("/api/v10/guilds/{guild}");
    let (status, head, _) = get(&sim, &path, Some("Bot sim-token")).await;
    assert_eq!(status, 200);
    assert!(head.contains("x-ratelimit-limit: 2"), "{head}");
    assert!(head.contains("x-ratelimit-remaining: 1"), "{head}");
    let (_, head, _) = get(&sim, &path, Some("Bot sim-token")).await;
    assert!(head.contains("x-ratelimit-remaining: 0"), "{head}");
    let (status, head, body) = get(&sim, &path, Some("Bot sim-token")).await;
    assert_eq!(status, 429);
    assert!(head.contains("x-ratelimit-scope: user"), "{head}");
    assert!(head.contains("retry-after: "), "{head}");
    assert_eq!(body["global"], false);
    assert!(body["retry_after"].as_f64().unwrap() > 50.0);
    assert_eq!(body["message"], "You are being rate limited.");
    // Another guild is another bucket (the major parameter).
    let other = sim.guilds_of_shard(0)[1];
    let (status, _, _) = get(
        &sim,
        &format!("/api/v10/guilds/{other}"),
        Some("Bot sim-token"),
    )
    .await;
    assert_eq!(status, 200);
    let counts = sim.rest_counts();
    assert_eq!(counts.served, 3);
    assert_eq!(counts.limited_route, 1);
    assert_eq!(counts.invalid, 1);
    drop(http);

    // The global limit: requests per second over every bucket (5 here, Discord's is 50); 20
    // requests at once over two buckets exceed it.
    let (sim, _) = start_limited(ddiscord_sim::RestLimitConfig {
        enabled: true,
        route_limit: 1000,
        route_window_ms: 1000,
        global_per_sec: 5,
    })
    .await;
    let guilds = sim.guilds_of_shard(0);
    let paths: Vec<String> = (0..20)
        .map(|i| format!("/api/v10/guilds/{}", guilds[i % 2]))
        .collect();
    let answers =
        futures::future::join_all(paths.iter().map(|p| get(&sim, p, Some("Bot sim-token")))).await;
    let global = answers
        .into_iter()
        .find(|(status, _, _)| *status == 429)
        .map(|(_, head, body)| (head, body));
    let (head, body) = global.expect("the 6th request within a second is refused");
    assert!(head.contains("x-ratelimit-scope: global"), "{head}");
    assert!(head.contains("x-ratelimit-global: true"), "{head}");
    assert_eq!(body["global"], true);
    assert!(sim.rest_counts().limited_global >= 1);
}

#[tokio::test]
async fn rest_changes_reach_the_gateway() {
    use futures::StreamExt as _;
    use twilight_gateway::{ConfigBuilder, Intents, Message, Shard, ShardId};
    let (sim, http) = start_limited(no_limits()).await;
    let (guild, channel) = guild_and_channel(&sim, &http).await;
    let intents = Intents::GUILDS | Intents::GUILD_MEMBERS | Intents::GUILD_MESSAGES;
    let config = ConfigBuilder::new("sim-token".to_owned(), intents)
        .proxy_url(sim.ws_url())
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);
    let mut next_event = async || -> Value {
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(15), shard.next())
                .await
                .expect("a gateway event in time")
                .expect("the shard stays open")
                .unwrap();
            if let Message::Text(text) = msg {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["op"] == 0 {
                    return v;
                }
            }
        }
    };
    while next_event().await["t"] != "GUILD_CREATE" {}
    let posted = http
        .create_message(channel)
        .content("to delete")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    http.delete_message(channel, posted.id).await.unwrap();
    let members = http
        .guild_members(guild)
        .limit(5)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    let g = http.guild(guild).await.unwrap().model().await.unwrap();
    let role = g
        .roles
        .iter()
        .find(|r| r.id.get() != guild.get())
        .unwrap()
        .id;
    let user = members.last().unwrap().user.id;
    http.add_guild_member_role(guild, user, role).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let v = next_event().await;
        let t = v["t"].as_str().unwrap().to_owned();
        if matches!(
            t.as_str(),
            "MESSAGE_CREATE" | "MESSAGE_DELETE" | "GUILD_MEMBER_UPDATE"
        ) {
            seen.push((t, v["d"].clone()));
        }
    }
    assert_eq!(seen[0].0, "MESSAGE_CREATE");
    assert_eq!(seen[1].0, "MESSAGE_DELETE");
    assert_eq!(seen[1].1["id"], posted.id.to_string());
    assert_eq!(seen[2].0, "GUILD_MEMBER_UPDATE");
    assert!(
        seen[2].1["roles"]
            .as_array()
            .unwrap()
            .contains(&Value::String(role.to_string()))
    );
}
