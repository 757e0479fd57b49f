//! `ddiscord project`: captured envelopes applied to a private Redis, one outcome per line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use ddiscord::envelope::{EnvelopeMeta, wrap};
use ddiscord_testkit::{RedisServer, fixtures_dir};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ddiscord");

/// READY and the GUILD_CREATEs of `events_v10.jsonl`, numbered 1.., as envelopes of shard 0.
fn capture() -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(fixtures_dir().join("events_v10.jsonl")).unwrap();
    let mut frames: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|f: &Value| f["t"] == "READY" || f["t"] == "GUILD_CREATE")
        .collect();
    frames.sort_by_key(|f| f["t"] != "READY");
    let guilds = frames
        .iter()
        .filter(|f| f["t"] == "GUILD_CREATE")
        .map(|f| f["d"]["id"].as_str().unwrap().to_owned())
        .collect();
    let meta = EnvelopeMeta {
        shard: 0,
        session: Some("capture"),
        received_ms: 1,
    };
    let lines = frames
        .iter_mut()
        .enumerate()
        .map(|(i, f)| {
            f["s"] = Value::from(i + 1);
            let bytes = wrap(&meta, &serde_json::to_vec(f).unwrap()).unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
        .collect();
    (lines, guilds)
}

fn project(redis: &RedisServer, input: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("project")
        .env("DDISCORD_REDIS_URL", redis.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_capture_fills_the_cache_and_replays_as_duplicates() {
    let redis = RedisServer::start().unwrap();
    let (lines, guilds) = capture();
    assert!(guilds.len() >= 2, "the fixture has guilds");
    let input = lines.join("\n") + "\n";

    let first = project(&redis, &input);
    assert!(first.status.success(), "{first:?}");
    let outcomes = String::from_utf8(first.stdout).unwrap();
    assert_eq!(outcomes.lines().count(), lines.len());
    assert!(outcomes.lines().all(|l| l == "applied"), "{outcomes}");

    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    for guild in &guilds {
        let cached: Option<String> = redis::cmd("GET")
            .arg(format!("dd:guild:{guild}"))
            .query(&mut conn)
            .unwrap();
        assert!(cached.is_some(), "guild {guild} is cached");
    }

    // The same capture again changes nothing: every event is a duplicate of its session.
    let again = project(&redis, &input);
    assert!(again.status.success(), "{again:?}");
    let outcomes = String::from_utf8(again.stdout).unwrap();
    assert!(outcomes.lines().all(|l| l == "duplicate"), "{outcomes}");
}

#[test]
fn lines_that_are_not_envelopes_are_reported_and_the_rest_applied() {
    let redis = RedisServer::start().unwrap();
    let (lines, _) = capture();
    let input = format!("{}\nnot json\n{}\n", lines[0], lines[1]);
    let out = project(&redis, &input);
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let outcomes: Vec<&str> = stdout.lines().collect();
    assert_eq!(outcomes.len(), 3, "{stdout}");
    assert_eq!(outcomes[0], "applied");
    assert!(outcomes[1].starts_with("invalid: "), "{stdout}");
    assert_eq!(outcomes[2], "applied");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("1 input lines were not envelopes"),
        "{stderr}"
    );
}
