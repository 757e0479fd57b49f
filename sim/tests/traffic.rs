//! Generated traffic: deserialises with twilight-model 0.18, stays consistent with the world,
//! and is deterministic by seed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{HashMap, HashSet};

use ddiscord_sim::fixtures::{self, Fixtures};
use ddiscord_sim::traffic::Traffic;
use ddiscord_sim::world::{World, shard_of};
use serde::de::DeserializeSeed;
use serde_json::Value;
use twilight_model::gateway::event::GatewayEventDeserializer;

fn world(large: bool) -> World {
    let dir = fixtures::locate(None).unwrap();
    let f = Fixtures::load(&dir, large).unwrap();
    World::build(&f, 6).unwrap()
}

fn twilight_parses(name: &str, d: &Value) {
    let frame = format!(r#"{{"op":0,"s":1,"t":"{name}","d":{d}}}"#);
    let de = GatewayEventDeserializer::from_json(&frame).unwrap();
    let mut json = serde_json::Deserializer::from_str(&frame);
    if let Err(e) = de.deserialize(&mut json) {
        panic!("{name} does not deserialise with twilight-model: {e}\n{frame}");
    }
}

fn id(v: &Value, ptr: &str) -> u64 {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn generated_events_deserialise_and_stay_consistent() {
    check_stream(world(false), 20_000);
}

#[test]
fn generated_events_with_the_large_guild_stay_consistent() {
    check_stream(world(true), 5_000);
}

fn check_stream(mut w: World, events: usize) {
    // Known state from the GUILD_CREATEs.
    let mut members: HashMap<u64, HashSet<u64>> = HashMap::new();
    let mut roles: HashMap<u64, HashSet<u64>> = HashMap::new();
    let mut channels: HashMap<u64, HashSet<u64>> = HashMap::new();
    for g in &w.guilds {
        let d = g.guild_create(true);
        twilight_parses("GUILD_CREATE", &d);
        members.insert(
            g.id,
            d["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| id(m, "/user/id"))
                .collect(),
        );
        roles.insert(
            g.id,
            d["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| id(r, "/id"))
                .collect(),
        );
        let mut ch: HashSet<u64> = d["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| id(c, "/id"))
            .collect();
        ch.extend(
            d["threads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| id(c, "/id")),
        );
        channels.insert(g.id, ch);
    }
    let mut messages: HashSet<u64> = HashSet::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut t = Traffic::new(7);
    for _ in 0..events {
        let ev = t.next_event(&mut w).unwrap();
        *names.entry(ev.name).or_default() += 1;
        let d = &ev.data;
        let gid = ev.guild_id;
        if !ev.name.starts_with("VOICE_CHANNEL_") {
            twilight_parses(ev.name, d);
        }
        let m = members.get_mut(&gid).unwrap();
        match ev.name {
            "GUILD_MEMBER_ADD" => assert!(m.insert(id(d, "/user/id")), "member added twice"),
            "GUILD_MEMBER_REMOVE" => {
                assert!(m.remove(&id(d, "/user/id")), "removed unknown member")
            }
            "GUILD_MEMBER_UPDATE" => {
                assert!(m.contains(&id(d, "/user/id")), "update for unknown member")
            }
            "PRESENCE_UPDATE" => assert!(m.contains(&id(d, "/user/id"))),
            "TYPING_START" | "VOICE_STATE_UPDATE" | "MESSAGE_REACTION_ADD" => {
                assert!(
                    m.contains(&id(d, "/user_id")),
                    "{} for unknown member",
                    ev.name
                );
            }
            "MESSAGE_CREATE" => {
                assert!(m.contains(&id(d, "/author/id")));
                assert!(
                    channels[&gid].contains(&id(d, "/channel_id")),
                    "message in unknown channel"
                );
                assert!(messages.insert(id(d, "/id")));
            }
            "MESSAGE_UPDATE" => assert!(
                messages.contains(&id(d, "/id")),
                "update of unknown message"
            ),
            "MESSAGE_DELETE" => {
                assert!(messages.remove(&id(d, "/id")), "delete of unknown message")
            }
            "GUILD_ROLE_CREATE" => assert!(roles.get_mut(&gid).unwrap().insert(id(d, "/role/id"))),
            "GUILD_ROLE_UPDATE" => assert!(roles[&gid].contains(&id(d, "/role/id"))),
            "GUILD_ROLE_DELETE" => assert!(roles.get_mut(&gid).unwrap().remove(&id(d, "/role_id"))),
            "CHANNEL_CREATE" | "THREAD_CREATE" => {
                assert!(channels.get_mut(&gid).unwrap().insert(id(d, "/id")));
            }
            "CHANNEL_UPDATE" | "THREAD_UPDATE" => assert!(channels[&gid].contains(&id(d, "/id"))),
            "CHANNEL_DELETE" | "THREAD_DELETE" => {
                assert!(channels.get_mut(&gid).unwrap().remove(&id(d, "/id")));
            }
            _ => {}
        }
    }
    if events < 20_000 {
        return;
    }
    for kind in [
        "PRESENCE_UPDATE",
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_DELETE",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "TYPING_START",
        "GUILD_MEMBER_ADD",
        "GUILD_MEMBER_UPDATE",
        "GUILD_MEMBER_REMOVE",
        "GUILD_ROLE_CREATE",
        "GUILD_ROLE_UPDATE",
        "GUILD_ROLE_DELETE",
        "CHANNEL_CREATE",
        "CHANNEL_UPDATE",
        "CHANNEL_DELETE",
        "THREAD_CREATE",
        "THREAD_UPDATE",
        "THREAD_DELETE",
        "VOICE_STATE_UPDATE",
        "VOICE_CHANNEL_STATUS_UPDATE",
    ] {
        assert!(
            names.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} generated: {names:?}"
        );
    }
    // Presences are the bulk.
    let max = names.values().max().copied().unwrap_or(0);
    assert_eq!(names["PRESENCE_UPDATE"], max);
}

#[test]
fn same_seed_same_stream() {
    let run = |seed| {
        let mut w = world(false);
        let mut t = Traffic::new(seed);
        (0..2000)
            .map(|_| {
                let e = t.next_event(&mut w).unwrap();
                format!("{}{}", e.name, e.data)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn large_guild_clone_has_fresh_snowflakes_and_deserialises() {
    let w = world(true);
    let large = w.guilds.iter().max_by_key(|g| g.member_count()).unwrap();
    assert!(large.member_count() >= 9593);
    assert_ne!(large.id, 81_384_788_765_712_384);
    let d = large.guild_create(true);
    twilight_parses("GUILD_CREATE", &d);
    // Guilds spread over shards.
    let shards: HashSet<u32> = w.guilds.iter().map(|g| shard_of(g.id, 4)).collect();
    assert_eq!(shards.len(), 4);
}

/// The invariants every guild of the world keeps, as a client's cache would check them: one
/// member per user, the owner among them, `member_count` equal to the members sent, the bot's
/// member is READY's user, members' roles exist, channel parents are categories of the guild.
fn check_world(w: &World) {
    for g in &w.guilds {
        let d = g.guild_create(true);
        let members = d["members"].as_array().unwrap();
        let mut seen = HashSet::new();
        for m in members {
            assert!(
                seen.insert(id(m, "/user/id")),
                "guild {}: user {} is a member twice",
                g.id,
                id(m, "/user/id")
            );
        }
        assert_eq!(d["member_count"].as_u64(), Some(members.len() as u64));
        let owner = id(&d, "/owner_id");
        assert!(
            seen.contains(&owner),
            "guild {}: owner {owner} is not a member",
            g.id
        );
        let me = members
            .iter()
            .find(|m| id(m, "/user/id") == w.bot_id)
            .unwrap_or_else(|| panic!("guild {}: the bot is not a member", g.id));
        assert_eq!(
            me["user"], w.bot_user,
            "guild {}: the bot's member user",
            g.id
        );
        let roles: HashSet<u64> = d["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| id(r, "/id"))
            .collect();
        for m in members {
            for r in m["roles"].as_array().unwrap() {
                let r: u64 = r.as_str().unwrap().parse().unwrap();
                assert!(
                    roles.contains(&r),
                    "guild {}: member role {r} does not exist",
                    g.id
                );
            }
        }
        let categories: HashSet<u64> = d["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] == 4)
            .map(|c| id(c, "/id"))
            .collect();
        for c in d["channels"].as_array().unwrap() {
            if let Some(p) = c["parent_id"].as_str() {
                let p: u64 = p.parse().unwrap();
                assert!(
                    categories.contains(&p),
                    "guild {}: parent {p} is not a category",
                    g.id
                );
            }
        }
    }
}

#[test]
fn the_world_is_consistent_over_seeds() {
    let dir = fixtures::locate(None).unwrap();
    let f = Fixtures::load(&dir, false).unwrap();
    for (seed, small) in (0..12u64).zip([1u32, 2, 3, 5, 8, 13].iter().cycle()) {
        let mut w = World::build(&f, *small).unwrap();
        check_world(&w);
        let mut t = Traffic::new(seed);
        for _ in 0..2_000 {
            t.next_event(&mut w);
        }
        check_world(&w);
    }
    let mut large = world(true);
    check_world(&large);
    let mut t = Traffic::new(99);
    for _ in 0..2_000 {
        t.next_event(&mut large);
    }
    check_world(&large);
}
