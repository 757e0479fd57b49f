//! `ddiscord up` end to end: the simulator's guilds go through ingest, the embedded mesh and the
//! state worker into Redis, and what a reader finds in the cache equals the simulator's world.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ddiscord::cache::{CacheReader, Keys};
use ddiscord::client::MemberRequest;
use ddiscord_sim::fixtures::Fixtures;
use ddiscord_sim::world::World;
use ddiscord_testkit::fixtures_dir;
use futures::StreamExt;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ddiscord");
const GUILDS: u32 = 6;

struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The user ids of an array of member objects.
fn member_ids(members: &Value) -> BTreeSet<u64> {
    members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn ids(values: &[Value], key: &str) -> BTreeSet<u64> {
    values
        .iter()
        .map(|v| v[key].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_projects_the_simulated_world_into_redis() {
    // Port 0: the header says which port was bound (a port picked here could be taken by a
    // test running alongside before `up` binds it).
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(BIN)
        .args(["up", "--plain", "--run-secs", "120", "--shards", "2"])
        .args(["--guilds", &GUILDS.to_string(), "--events-per-sec", "0"])
        .args(["--http-addr", "127.0.0.1:0"])
        .env("DDISCORD_FIXTURES", fixtures_dir())
        .env_remove("DDISCORD_REDIS_URL")
        .env_remove("DDISCORD_MESH_URL")
        .env_remove("DISCORD_TOKEN")
        .stdout(Stdio::piped())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _up = Up(child);

    // The header names the Redis and the mesh that scripts attach to.
    let mut lines = BufReader::new(stdout).lines();
    let (mut redis_url, mut mesh_url, mut http) = (None, None, None);
    while redis_url.is_none() || mesh_url.is_none() || http.is_none() {
        let Some(line) = lines.next() else {
            panic!(
                "up exited before printing its header; its log:\n{}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
        };
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("redis"), Some(url)) => redis_url = Some(url.to_owned()),
            (Some("mesh"), Some(url)) => mesh_url = Some(url.to_owned()),
            (Some("metrics"), Some(url)) => {
                let port = url
                    .trim_start_matches("http://")
                    .trim_end_matches("/metrics")
                    .rsplit(':')
                    .next()
                    .unwrap();
                http = Some(port.parse::<u16>().unwrap());
            }
            _ => {}
        }
    }
    let http = http.unwrap();
    let (mesh_url, redis_url) = (mesh_url.unwrap(), redis_url.unwrap());
    assert!(mesh_url.starts_with("mqtt://127.0.0.1:"));
    std::thread::spawn(move || for _ in lines {});

    let client = redis::Client::open(redis_url.clone()).unwrap();
    let conn = client.get_connection_manager().await.unwrap();
    let reader = CacheReader::new(conn, Keys::default());

    // The reference: the simulator's world, built the same way from the same captures.
    let fixtures = Fixtures::load(&fixtures_dir(), false).unwrap();
    let world = World::build(&fixtures, GUILDS).unwrap();
    assert_eq!(world.guilds.len(), GUILDS as usize);

    let deadline = Instant::now() + Duration::from_secs(90);
    for guild in &world.guilds {
        let expected = guild.guild_create(false);
        loop {
            let complete = reader
                .guild_state(guild.id)
                .await
                .unwrap()
                .is_some_and(|s| s.complete);
            if complete {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "guild {} never completed",
                guild.id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let cached = reader.guild(guild.id).await.unwrap().unwrap();
        assert_eq!(cached.name, expected["name"].as_str().unwrap());

        let channels: BTreeSet<u64> = reader
            .channels(guild.id)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id.get())
            .collect();
        let mut expected_channels = ids(expected["channels"].as_array().unwrap(), "id");
        expected_channels.extend(ids(
            expected["threads"]
                .as_array()
                .map_or(&[][..], Vec::as_slice),
            "id",
        ));
        assert_eq!(channels, expected_channels, "channels of {}", guild.id);

        let roles: BTreeSet<u64> = reader
            .roles(guild.id)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id.get())
            .collect();
        assert_eq!(roles, ids(expected["roles"].as_array().unwrap(), "id"));

        let members: BTreeSet<u64> = reader
            .member_ids(guild.id)
            .await
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            members,
            member_ids(&expected["members"]),
            "members of {}",
            guild.id
        );
    }

    // A gateway command end to end: the SDK sends REQUEST_GUILD_MEMBERS over the mesh to the
    // ingest shard that holds the guild, the simulator answers with GUILD_MEMBERS_CHUNKs, and
    // the SDK gets exactly its chunks back, by nonce.
    let sdk = ddiscord::Client::connect(ddiscord::ClientConfig::new(mesh_url, redis_url))
        .await
        .unwrap();
    for guild in &world.guilds {
        let mut chunks = sdk
            .request_guild_members(&MemberRequest::all(guild.id))
            .await
            .unwrap();
        let mut got = BTreeSet::new();
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(30), chunks.next())
            .await
            .expect("no chunk within 30 s")
        {
            let d: Value = serde_json::from_slice(chunk.unwrap().d_bytes()).unwrap();
            assert_eq!(d["nonce"].as_str(), Some(chunks.nonce()));
            got.extend(member_ids(&d["members"]));
        }
        let members = member_ids(&guild.guild_create(false)["members"]);
        assert_eq!(
            got, members,
            "members of {} by REQUEST_GUILD_MEMBERS",
            guild.id
        );
    }
    sdk.close().await;

    // The health and metrics endpoints of the process answer: ready once ingest and the
    // state worker both are, and metrics from both.
    let ready = http_get(http, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.0 200"), "{ready}");
    let metrics = http_get(http, "/metrics").await;
    assert!(
        metrics.contains("ddiscord_ingest_events_out_total")
            && metrics.contains("ddiscord_state_events_applied_total"),
        "{metrics}"
    );
}

async fn http_get(port: u16, path: &str) -> String {
    ddiscord_testkit::http_get(("127.0.0.1", port), path)
        .await
        .unwrap()
}
