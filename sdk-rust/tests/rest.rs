//! `ddiscord::rest` against the simulator: calls act on its world, and three processes of one
//! bot share the rate limits through Redis so the simulator refuses none of their requests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use ddiscord::rest::{LimiterConfig, Rest, RestConfig, RestErrorKind};
use ddiscord_sim::{ClockMode, RestLimitConfig, SimConfig, SimHandle, Simulator};
use serde_json::{Value, json};

async fn sim(limits: RestLimitConfig, guilds: u32) -> SimHandle {
    Simulator::start(SimConfig {
        guilds,
        clock: ClockMode::Manual,
        rest_limits: limits,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

async fn rest(sim_url: &str, redis_url: &str) -> Rest {
    let mut config = RestConfig::new("sim-token");
    config.base_url = Some(sim_url.to_owned());
    config.limits = LimiterConfig::default();
    let redis = redis::aio::ConnectionManager::new(redis::Client::open(redis_url).unwrap())
        .await
        .unwrap();
    Rest::new(&config, redis, "dd:").unwrap()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Text channels of every guild of the simulator, read through `rest` (so the requests count
/// in the shared limits).
async fn text_channels(sim: &SimHandle, rest: &Rest) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for g in sim.guilds_of_shard(0) {
        let channels = json(&rest.get_guild_channels(g).await.unwrap());
        for c in channels.as_array().unwrap() {
            if c["type"] == 0 {
                out.push((g, c["id"].as_str().unwrap().parse().unwrap()));
            }
        }
    }
    out
}

/// A GET of the simulator's REST API with the bot token, for reading its state.
async fn sim_get(sim: &SimHandle, path: &str) -> Value {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let req = format!("GET {path} HTTP/1.0\r\nHost: sim\r\nAuthorization: Bot sim-token\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn calls_act_on_the_simulator() {
    let redis = ddiscord_testkit::RedisServer::start().unwrap();
    let sim = sim(RestLimitConfig::default(), 2).await;
    let rest = rest(&sim.http_url(), &redis.url()).await;
    let (guild, channel) = text_channels(&sim, &rest).await[0];
    let m = json(
        &rest
            .create_message(channel, &json!({"content": "hi"}))
            .await
            .unwrap(),
    );
    assert_eq!(m["content"], "hi");
    let id: u64 = m["id"].as_str().unwrap().parse().unwrap();
    let edited = json(
        &rest
            .edit_message(channel, id, &json!({"content": "edited"}))
            .await
            .unwrap(),
    );
    assert_eq!(edited["content"], "edited");
    assert!(rest.delete_message(channel, id).await.unwrap().is_empty());
    let e = rest.get_message(channel, id).await.unwrap_err();
    assert_eq!(e.discord_code(), Some((404, 10008)));

    let g = json(&rest.get_guild(guild).await.unwrap());
    let role: u64 = g["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse::<u64>().unwrap())
        .find(|r| *r != guild)
        .unwrap();
    let e = rest.get_member(guild, 1).await.unwrap_err();
    assert_eq!(e.discord_code(), Some((404, 10007)));
    let members = sim_get(&sim, &format!("/api/v10/guilds/{guild}/members?limit=10")).await;
    let user: u64 = members[0]["user"]["id"].as_str().unwrap().parse().unwrap();
    rest.add_member_role(guild, user, role).await.unwrap();
    let member = json(&rest.get_member(guild, user).await.unwrap());
    assert!(
        member["roles"]
            .as_array()
            .unwrap()
            .contains(&json!(role.to_string()))
    );
    rest.remove_member_role(guild, user, role).await.unwrap();
    let member = json(&rest.get_member(guild, user).await.unwrap());
    assert!(
        !member["roles"]
            .as_array()
            .unwrap()
            .contains(&json!(role.to_string()))
    );
    let c = json(&rest.get_channel(channel).await.unwrap());
    assert_eq!(c["guild_id"], guild.to_string());
}

#[tokio::test]
async fn a_deadline_fails_with_a_typed_error_instead_of_waiting() {
    let redis = ddiscord_testkit::RedisServer::start().unwrap();
    let sim = sim(
        RestLimitConfig {
            route_limit: 1,
            route_window_ms: 60_000,
            ..RestLimitConfig::default()
        },
        1,
    )
    .await;
    let mut config = RestConfig::new("sim-token");
    config.base_url = Some(sim.http_url());
    config.deadline = Duration::from_millis(500);
    let conn = redis::aio::ConnectionManager::new(redis::Client::open(redis.url()).unwrap())
        .await
        .unwrap();
    let rest = Rest::new(&config, conn, "dd:").unwrap();
    let guild = sim.guilds_of_shard(0)[0];
    rest.get_guild(guild).await.unwrap();
    let started = Instant::now();
    let e = rest.get_guild(guild).await.unwrap_err();
    assert!(
        matches!(e.kind(), RestErrorKind::RateLimited { retry_after } if *retry_after > Duration::from_secs(50)),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(sim.rest_counts().limited_route, 0, "nothing was sent");
}

/// One of the three processes of `three_processes_share_the_limits`: runs only when the
/// parent test starts this binary with `DDISCORD_REST_WORKER` set.
#[tokio::test]
async fn worker() {
    let Ok(spec) = std::env::var("DDISCORD_REST_WORKER") else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let rest = rest(
        spec["sim"].as_str().unwrap(),
        spec["redis"].as_str().unwrap(),
    )
    .await;
    let guild = spec["guild"].as_u64().unwrap();
    let channels: Vec<u64> = spec["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    let mut tasks = Vec::new();
    // One route hammered (one guild's bucket) ...
    for _ in 0..spec["route"].as_u64().unwrap() {
        let rest = rest.clone();
        tasks.push(tokio::spawn(async move {
            rest.get_guild(guild).await.map(|_| ())
        }));
    }
    // ... and the global limit, over many channel buckets.
    for i in 0..spec["global"].as_u64().unwrap() {
        let rest = rest.clone();
        let c = channels[usize::try_from(i).unwrap() % channels.len()];
        tasks.push(tokio::spawn(async move {
            rest.get_channel(c).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn three_processes_share_the_limits() {
    let redis = ddiscord_testkit::RedisServer::start().unwrap();
    let limits = RestLimitConfig {
        enabled: true,
        route_limit: 5,
        route_window_ms: 1000,
        global_per_sec: 50,
    };
    let sim = sim(limits, 4).await;
    let channels = text_channels(&sim, &rest(&sim.http_url(), &redis.url()).await).await;
    let guild = channels[0].0;
    let before = sim.rest_counts();
    let (route, global) = (8u64, 50u64);
    let spec = json!({
        "sim": sim.http_url(),
        "redis": redis.url(),
        "guild": guild,
        "channels": channels.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
        "route": route,
        "global": global,
    })
    .to_string();
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let children: Vec<_> = (0..3)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .args(["--exact", "worker", "--nocapture"])
                .env("DDISCORD_REST_WORKER", &spec)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ok = true;
    for mut c in children {
        ok &= c.wait().await.unwrap().success();
    }
    assert!(
        ok,
        "a worker failed; the simulator counted {:?}",
        sim.rest_counts()
    );
    let elapsed = started.elapsed();
    let counts = sim.rest_counts();
    assert_eq!(counts.limited_route, 0, "{counts:?}");
    assert_eq!(counts.limited_global, 0, "{counts:?}");
    assert_eq!(counts.served - before.served, 3 * (route + global));
    // 24 requests on a 5-per-second bucket need at least 4 full windows.
    assert!(elapsed >= Duration::from_secs(4), "{elapsed:?}");
}
