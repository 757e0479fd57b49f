//! The cache keeps what Discord sent: every field of every fixture entity, fields and
//! permission bits no library knows yet, and partial updates merged field by field, read back
//! with a plain Redis client. Users are removed once no guild holds them, so the number of keys
//! returns to its baseline after members join and leave.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use ddiscord::cache::{CacheQuery, CacheReader, Keys};
use ddiscord_testkit::RedisServer;
use ddiscord_workers::{Outcome, ProjectionConfig, Projector};
use serde_json::{Value, json};

/// The guild object's collections, which the cache keeps in hashes of their own.
const COLLECTIONS: &[&str] = &[
    "channels",
    "threads",
    "members",
    "presences",
    "voice_states",
    "roles",
    "emojis",
    "stickers",
    "stage_instances",
    "guild_scheduled_events",
];

/// Permission bits 0..=52, more than twilight-model 0.18 knows (it drops bits 47 and 48).
const ALL_BITS: &str = "9007199254740991";

/// What the cache must hold, kept by the rules Discord documents for each event.
#[derive(Default)]
struct Expected {
    guilds: BTreeMap<u64, Value>,
    roles: BTreeMap<(u64, u64), Value>,
    channels: BTreeMap<(u64, u64), Value>,
    members: BTreeMap<(u64, u64), Value>,
    users: BTreeMap<u64, Value>,
}

fn id(v: &Value) -> u64 {
    v.as_str().unwrap().parse().unwrap()
}

impl Expected {
    fn guild_create(&mut self, d: &Value) {
        let g = id(&d["id"]);
        let mut guild = d.clone();
        for c in COLLECTIONS {
            guild.as_object_mut().unwrap().remove(*c);
        }
        self.guilds.insert(g, guild);
        for role in d["roles"].as_array().unwrap() {
            self.roles.insert((g, id(&role["id"])), role.clone());
        }
        for channel in d["channels"].as_array().unwrap() {
            let mut channel = channel.clone();
            channel["guild_id"] = d["id"].clone();
            self.channels.insert((g, id(&channel["id"])), channel);
        }
        for member in d["members"].as_array().unwrap() {
            self.member_set(g, member);
        }
    }

    fn member_set(&mut self, g: u64, member: &Value) {
        let mut member = member.clone();
        let user = member.as_object_mut().unwrap().remove("user").unwrap();
        let u = id(&user["id"]);
        self.members.insert((g, u), member);
        self.users.insert(u, user);
    }

    fn member_remove(&mut self, g: u64, u: u64) {
        self.members.remove(&(g, u));
        if !self.members.keys().any(|(_, m)| *m == u) {
            self.users.remove(&u);
        }
    }

    fn count(&mut self, g: u64, by: i64) {
        let guild = self.guilds.get_mut(&g).unwrap();
        let n = guild["member_count"].as_i64().unwrap() + by;
        guild["member_count"] = Value::from(n);
    }

    /// Fields of `patch` replace or extend those of `target`.
    fn merge(target: &mut Value, patch: &Value, except: &[&str]) {
        for (k, v) in patch.as_object().unwrap() {
            if !except.contains(&k.as_str()) {
                target[k] = v.clone();
            }
        }
    }
}

/// A dispatch frame.
fn frame(t: &str, d: Value) -> Value {
    json!({"op": 0, "t": t, "s": 0, "d": d})
}

/// Fields nobody knows yet, on every kind of entity of a GUILD_CREATE, and permission bits
/// beyond twilight-model's on every role.
fn with_unknown_fields(mut create: Value) -> Value {
    let d = &mut create["d"];
    d["x_future_guild"] = json!({"nested": [1, {"k": "v"}], "big": 18446744073709551615u64});
    for role in d["roles"].as_array_mut().unwrap() {
        role["permissions"] = Value::from(ALL_BITS);
        role["x_future_role"] = json!(1.5);
    }
    for channel in d["channels"].as_array_mut().unwrap() {
        channel["x_future_channel"] = json!([null, "a\"b"]);
    }
    for member in d["members"].as_array_mut().unwrap().iter_mut().take(200) {
        member["x_future_member"] = json!("m");
        member["user"]["x_future_user"] = json!(true);
        member["user"]["public_flags"] = json!(1u64 << 40);
    }
    create
}

/// Reads `key` (or `field` of the hash `key`) with a plain Redis command and parses it.
async fn stored(conn: &mut redis::aio::ConnectionManager, key: &str, field: Option<u64>) -> Value {
    let text: Option<String> = match field {
        Some(f) => redis::cmd("HGET").arg(key).arg(f).query_async(conn).await,
        None => redis::cmd("GET").arg(key).query_async(conn).await,
    }
    .unwrap();
    let text = text.unwrap_or_else(|| panic!("{key} {field:?} is not cached"));
    serde_json::from_str(&text).unwrap()
}

/// Compares two objects field by field, naming the first field that differs.
fn assert_fields(what: &str, ours: &Value, expected: &Value) {
    let (Some(o), Some(e)) = (ours.as_object(), expected.as_object()) else {
        assert_eq!(ours, expected, "{what}");
        return;
    };
    for (k, v) in e {
        assert_eq!(o.get(k), Some(v), "{what}: field {k}");
    }
    for k in o.keys() {
        assert!(e.contains_key(k), "{what}: unexpected field {k}");
    }
}

async fn project(conn: &redis::aio::ConnectionManager, keys: &Keys, frames: &[Value]) {
    let mut projector = Projector::new(conn.clone(), keys.clone(), ProjectionConfig::default());
    let envs = envelopes(frames, 0, "s1", 1);
    for chunk in parse(&envs).chunks(16) {
        let outcomes = projector.apply_batch(chunk).await.unwrap();
        for o in outcomes {
            assert!(!matches!(o, Outcome::Rejected(_)), "{o:?}");
        }
    }
}

#[tokio::test]
async fn every_field_survives_and_updates_merge() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let keys = Keys::new("ll:");
    let fixtures = Fixtures::load();
    let guilds = [LARGE_GUILD, V10_GUILD_A, V10_GUILD_B];
    let mut frames = vec![fixtures.ready_for("s1", &guilds)];
    let mut expected = Expected::default();
    for g in guilds {
        let create = with_unknown_fields(fixtures.guild_create(g));
        expected.guild_create(&create["d"]);
        frames.push(create);
    }

    // Churn on every guild: a member update without deaf/mute and with a new field, a role
    // with new permission bits, a channel update, a guild update carrying collections, a
    // member joining and one leaving.
    for (n, g) in guilds.into_iter().enumerate() {
        let gid = Value::from(g.to_string());
        let (&(_, u), member) = expected.members.range((g, 0)..(g + 1, 0)).next().unwrap();
        let mut user = expected.users[&u].clone();
        user["username"] = json!(format!("renamed{n}"));
        user["x_new_user"] = json!({"since": 2027});
        let update = json!({
            "guild_id": gid, "user": user, "roles": [], "nick": "churned",
            "avatar": null, "joined_at": member["joined_at"], "premium_since": null,
            "pending": false, "communication_disabled_until": null, "flags": 8,
            "x_new_member_field": {"z": [1, 2, 3]}
        });
        let mut merged = member.clone();
        Expected::merge(&mut merged, &update, &["guild_id", "user"]);
        expected.members.insert((g, u), merged);
        expected.users.insert(u, user);
        frames.push(frame("GUILD_MEMBER_UPDATE", update));

        let (&(_, r), role) = expected.roles.range((g, 0)..(g + 1, 0)).next().unwrap();
        let mut role = role.clone();
        role["permissions"] = json!("2248473465835073");
        role["x_role_v2"] = json!("y");
        expected.roles.insert((g, r), role.clone());
        frames.push(frame(
            "GUILD_ROLE_UPDATE",
            json!({"guild_id": gid, "role": role}),
        ));

        let (&(_, c), channel) = expected.channels.range((g, 0)..(g + 1, 0)).next().unwrap();
        let mut channel = channel.clone();
        channel["topic"] = json!("new topic");
        channel["x_chan"] = json!(3);
        channel.as_object_mut().unwrap().remove("x_future_channel");
        expected.channels.insert((g, c), channel.clone());
        frames.push(frame("CHANNEL_UPDATE", channel));

        let mut guild_update = expected.guilds[&g].clone();
        guild_update["name"] = json!(format!("renamed guild {n}"));
        guild_update["x_guild_v2"] = json!([]);
        guild_update["roles"] = json!([]);
        guild_update["emojis"] = json!([]);
        guild_update.as_object_mut().unwrap().remove("member_count");
        let mut merged = expected.guilds[&g].clone();
        Expected::merge(&mut merged, &guild_update, COLLECTIONS);
        expected.guilds.insert(g, merged);
        frames.push(frame("GUILD_UPDATE", guild_update));

        let newcomer = 1_000_000_000_000 + n as u64;
        let joined = json!({
            "user": {"id": newcomer.to_string(), "username": "new", "discriminator": "0",
                     "global_name": null, "avatar": null, "x_user_field": 1},
            "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00", "deaf": false,
            "mute": false, "flags": 0, "pending": false, "x_member_field": "kept"
        });
        let mut add = joined.clone();
        add["guild_id"] = gid.clone();
        expected.member_set(g, &joined);
        expected.count(g, 1);
        frames.push(frame("GUILD_MEMBER_ADD", add));

        let (&(_, leaver), _) = expected.members.range((g, 0)..(g + 1, 0)).nth(1).unwrap();
        let leaver_user = expected.users[&leaver].clone();
        expected.member_remove(g, leaver);
        expected.count(g, -1);
        frames.push(frame(
            "GUILD_MEMBER_REMOVE",
            json!({"guild_id": gid, "user": leaver_user}),
        ));
    }
    project(&conn, &keys, &frames).await;

    for (g, guild) in &expected.guilds {
        let ours = stored(&mut conn, &keys.guild(*g), None).await;
        assert_fields(&format!("guild {g}"), &ours, guild);
        let state: Option<String> = redis::cmd("HGET")
            .arg(keys.guild_state(*g))
            .arg("member_count")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            state.map(|s| s.parse::<i64>().unwrap()),
            guild["member_count"].as_i64(),
            "guild {g} member_count in :state"
        );
    }
    for ((g, r), role) in &expected.roles {
        let ours = stored(&mut conn, &keys.guild_roles(*g), Some(*r)).await;
        assert_fields(&format!("role {r}"), &ours, role);
    }
    for ((g, c), channel) in &expected.channels {
        let ours = stored(&mut conn, &keys.guild_channels(*g), Some(*c)).await;
        assert_fields(&format!("channel {c}"), &ours, channel);
    }
    for g in expected.guilds.keys() {
        let cached: usize = redis::cmd("HLEN")
            .arg(keys.guild_members(*g))
            .query_async(&mut conn)
            .await
            .unwrap();
        let want = expected.members.range((*g, 0)..(*g + 1, 0)).count();
        assert_eq!(cached, want, "members of {g}");
    }
    for ((g, u), member) in &expected.members {
        let ours = stored(&mut conn, &keys.guild_members(*g), Some(*u)).await;
        assert_fields(&format!("member {g}/{u}"), &ours, member);
    }
    for (u, user) in &expected.users {
        let ours = stored(&mut conn, &keys.user(*u), None).await;
        assert_fields(&format!("user {u}"), &ours, user);
    }
    assert!(expected.members.len() > 9_000, "{}", expected.members.len());

    // The SDKs' reads answer with the same JSON: members with their users spliced in, read in
    // one batch per guild, and the guild with its collections.
    let reader = CacheReader::new(conn.clone(), keys.clone());
    for (g, guild) in &expected.guilds {
        let users: Vec<u64> = expected
            .members
            .range((*g, 0)..(*g + 1, 0))
            .map(|((_, u), _)| *u)
            .collect();
        let read = |q| {
            let reader = reader.clone();
            async move {
                let text = reader.query_json(&q).await.unwrap();
                serde_json::from_str::<Value>(&text).unwrap()
            }
        };
        let batch = read(CacheQuery::Members {
            guild: *g,
            users: users.clone(),
        })
        .await;
        for (u, ours) in users.iter().zip(batch.as_array().unwrap()) {
            let mut want = expected.members[&(*g, *u)].clone();
            want["user"] = expected.users[u].clone();
            assert_eq!(ours, &want, "member {g}/{u} as the SDKs read it");
        }
        let full = read(CacheQuery::GuildWithCollections { guild: *g }).await;
        let roles = full["roles"].as_array().unwrap();
        assert_eq!(
            roles.len(),
            expected.roles.range((*g, 0)..(*g + 1, 0)).count()
        );
        for role in roles {
            assert_eq!(role, &expected.roles[&(*g, id(&role["id"]))]);
        }
        let mut bare = full.clone();
        for name in ["roles", "channels", "emojis"] {
            bare.as_object_mut().unwrap().remove(name);
        }
        assert_fields(&format!("guild {g} as read"), &bare, guild);
    }
}

/// Every `user:<id>` key under `keys` (not `user:@me`).
async fn user_keys(conn: &mut redis::aio::ConnectionManager, keys: &Keys) -> Vec<String> {
    let all: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}user:*", keys.prefix()))
        .query_async(conn)
        .await
        .unwrap();
    all.into_iter().filter(|k| !k.ends_with("@me")).collect()
}

async fn key_count(conn: &mut redis::aio::ConnectionManager, keys: &Keys) -> usize {
    let all: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", keys.prefix()))
        .query_async(conn)
        .await
        .unwrap();
    all.len()
}

#[tokio::test]
async fn users_go_when_no_guild_holds_them() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let keys = Keys::new("gc:");
    let fixtures = Fixtures::load();
    let guilds = [V10_GUILD_A, V10_GUILD_B];
    let mut frames = vec![fixtures.ready_for("s1", &guilds)];
    let mut expected = Expected::default();
    for g in guilds {
        let create = fixtures.guild_create(g);
        expected.guild_create(&create["d"]);
        frames.push(create);
    }
    let template = expected.members.values().next().unwrap().clone();
    let member = |u: u64| {
        let mut m = template.clone();
        m["user"] = json!({"id": u.to_string(), "username": format!("u{u}"),
                           "discriminator": "0", "global_name": null, "avatar": null});
        m
    };
    let add = |g: u64, u: u64| {
        let mut m = member(u);
        m["guild_id"] = Value::from(g.to_string());
        frame("GUILD_MEMBER_ADD", m)
    };
    let remove = |g: u64, u: u64| {
        frame(
            "GUILD_MEMBER_REMOVE",
            json!({"guild_id": g.to_string(), "user": {"id": u.to_string(), "username": "x",
                   "discriminator": "0", "global_name": null, "avatar": null}}),
        )
    };
    project(&conn, &keys, &frames).await;
    let mut seq_frames = frames;
    let baseline = key_count(&mut conn, &keys).await;
    let baseline_refs: usize = redis::cmd("HLEN")
        .arg(keys.user_refs())
        .query_async(&mut conn)
        .await
        .unwrap();

    // Join/leave churn: 200 users join both guilds and leave them again.
    let mut churn = Vec::new();
    for i in 0..200u64 {
        let u = 2_000_000_000_000 + i;
        churn.extend([add(V10_GUILD_A, u), add(V10_GUILD_B, u)]);
    }
    seq_frames.extend(churn.clone());
    project(&conn, &keys, &seq_frames).await;
    assert_eq!(key_count(&mut conn, &keys).await, baseline + 200);

    // A user held by two guilds stays until it leaves both.
    let u = 2_000_000_000_000;
    seq_frames.push(remove(V10_GUILD_A, u));
    project(&conn, &keys, &seq_frames).await;
    let held: Option<String> = redis::cmd("GET")
        .arg(keys.user(u))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(held.is_some(), "user still in guild B");
    seq_frames.push(remove(V10_GUILD_B, u));
    for i in 1..200u64 {
        let u = 2_000_000_000_000 + i;
        seq_frames.extend([remove(V10_GUILD_A, u), remove(V10_GUILD_B, u)]);
    }
    project(&conn, &keys, &seq_frames).await;
    assert_eq!(
        key_count(&mut conn, &keys).await,
        baseline,
        "keys after churn"
    );
    let refs: usize = redis::cmd("HLEN")
        .arg(keys.user_refs())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(refs, baseline_refs);

    // Every member leaves guild A, then guild B is left: no user is kept but the bot's own.
    for &(g, u) in expected.members.keys().filter(|(g, _)| *g == V10_GUILD_A) {
        seq_frames.push(remove(g, u));
    }
    seq_frames.push(frame(
        "GUILD_DELETE",
        json!({"id": V10_GUILD_B.to_string()}),
    ));
    project(&conn, &keys, &seq_frames).await;
    assert_eq!(user_keys(&mut conn, &keys).await, Vec::<String>::new());
    let refs: usize = redis::cmd("HLEN")
        .arg(keys.user_refs())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(refs, 0);
    let me: Option<String> = redis::cmd("GET")
        .arg(keys.current_user())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(me.is_some(), "user:@me stays");
}
