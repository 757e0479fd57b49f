//! Dispatches the captures do not contain, built from Discord's documented shapes: member
//! chunks, thread members, stage instances, scheduled events, stickers, emojis, unavailable
//! guilds, and malformed payloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ddiscord::cache::{CacheReader, Keys};
use ddiscord_testkit::RedisServer;
use ddiscord_workers::{Outcome, ProjectionConfig, Projector};
use serde_json::{Value, json};

const G: u64 = V10_GUILD_A;

fn member(user: u64) -> Value {
    json!({"user": {"id": user.to_string(), "username": format!("u{user}"), "discriminator": "0", "avatar": null, "global_name": null},
           "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0, "nick": null, "pending": false})
}

fn dispatch(t: &str, d: Value) -> Value {
    json!({"op": 0, "t": t, "s": 0, "d": d})
}

async fn hlen(conn: &redis::aio::ConnectionManager, key: String) -> usize {
    redis::cmd("HLEN")
        .arg(key)
        .query_async(&mut conn.clone())
        .await
        .unwrap()
}

#[tokio::test]
async fn documented_shapes_are_projected() {
    let server = RedisServer::start().unwrap();
    let conn = redis(&server.url()).await;
    let keys = Keys::default();
    let fixtures = Fixtures::load();
    let g = G.to_string();
    let frames = vec![
        fixtures.ready_for("e", &[G]),
        fixtures.guild_create(G),
        dispatch(
            "GUILD_MEMBERS_CHUNK",
            json!({"guild_id": g, "members": [member(71), member(72)], "chunk_index": 0, "chunk_count": 2, "not_found": []}),
        ),
        dispatch(
            "GUILD_MEMBERS_CHUNK",
            json!({"guild_id": g, "members": [member(73)], "chunk_index": 1, "chunk_count": 2, "not_found": []}),
        ),
        dispatch(
            "THREAD_MEMBERS_UPDATE",
            json!({"id": "500", "guild_id": g, "member_count": 2,
            "added_members": [{"id": "500", "user_id": "71", "join_timestamp": "2024-01-01T00:00:00.000000+00:00", "flags": 0},
                              {"id": "500", "user_id": "72", "join_timestamp": "2024-01-01T00:00:00.000000+00:00", "flags": 0}],
            "removed_member_ids": ["72"]}),
        ),
        dispatch(
            "STAGE_INSTANCE_CREATE",
            json!({"id": "600", "guild_id": g, "channel_id": "601", "topic": "t", "privacy_level": 2, "discoverable_disabled": false, "guild_scheduled_event_id": null}),
        ),
        dispatch(
            "STAGE_INSTANCE_CREATE",
            json!({"id": "602", "guild_id": g, "channel_id": "603", "topic": "t", "privacy_level": 2, "discoverable_disabled": false, "guild_scheduled_event_id": null}),
        ),
        dispatch(
            "STAGE_INSTANCE_DELETE",
            json!({"id": "602", "guild_id": g, "channel_id": "603", "topic": "t", "privacy_level": 2, "discoverable_disabled": false, "guild_scheduled_event_id": null}),
        ),
        dispatch(
            "GUILD_SCHEDULED_EVENT_CREATE",
            json!({"id": "700", "guild_id": g, "channel_id": "601", "creator_id": "71", "name": "e", "description": null,
            "scheduled_start_time": "2026-12-01T00:00:00.000000+00:00", "scheduled_end_time": null, "privacy_level": 2, "status": 1, "entity_type": 1, "entity_id": null, "entity_metadata": null, "image": null}),
        ),
        dispatch(
            "GUILD_STICKERS_UPDATE",
            json!({"guild_id": g, "stickers": [{"id": "800", "name": "s", "description": null, "tags": "x", "type": 2, "format_type": 1, "available": true, "guild_id": g}]}),
        ),
        dispatch("GUILD_EMOJIS_UPDATE", json!({"guild_id": g, "emojis": []})),
        dispatch(
            "GUILD_MEMBER_UPDATE",
            json!({"guild_id": g, "user": {"id": "71", "username": "renamed", "discriminator": "0", "avatar": null, "global_name": null},
            "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "nick": "n71", "pending": false, "premium_since": null, "avatar": null, "communication_disabled_until": null, "flags": 0}),
        ),
        dispatch(
            "GUILD_MEMBER_ADD",
            json!({"guild_id": g, "user": {"id": "74", "username": "u74", "discriminator": "0", "avatar": null, "global_name": null},
            "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": true, "mute": false, "flags": 0, "nick": null, "pending": false}),
        ),
        dispatch(
            "GUILD_MEMBER_REMOVE",
            json!({"guild_id": g, "user": {"id": "73", "username": "u73", "discriminator": "0", "avatar": null, "global_name": null}}),
        ),
        dispatch(
            "GUILD_ROLE_CREATE",
            json!({"guild_id": "not a snowflake", "role": {}}),
        ),
        dispatch("GUILD_DELETE", json!({"id": g, "unavailable": true})),
    ];
    let envs = parse(&envelopes(&frames, 0, "e", 1));
    let mut projector = Projector::new(conn.clone(), keys.clone(), ProjectionConfig::default());
    let outcomes = projector.apply_batch(&envs).await.unwrap();
    let rejected: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Outcome::Rejected(_)))
        .map(|(i, _)| i)
        .collect();
    // Only the malformed GUILD_ROLE_CREATE is rejected; it changes nothing.
    assert_eq!(rejected, [14], "{outcomes:?}");

    let reader = CacheReader::new(conn.clone(), keys.clone());
    let state = reader.guild_state(G).await.unwrap().unwrap();
    assert!(state.members_chunked);
    assert!(
        state.unavailable,
        "GUILD_DELETE unavailable keeps the guild, flagged"
    );
    assert!(reader.guild(G).await.unwrap().unwrap().unavailable == Some(true));
    let stored: serde_json::Value =
        serde_json::from_str(&reader.guild_json(G).await.unwrap()).unwrap();
    assert_eq!(
        stored["unavailable"],
        serde_json::Value::Bool(true),
        "the stored guild says so too"
    );
    let m = reader.members(G, &[71, 72, 73, 74]).await.unwrap();
    assert_eq!(m[0].as_ref().unwrap().nick.as_deref(), Some("n71"));
    assert!(
        !m[0].as_ref().unwrap().deaf,
        "deaf kept from the cached member"
    );
    assert_eq!(m[0].as_ref().unwrap().user.name, "renamed");
    assert!(m[1].is_some());
    assert!(m[2].is_none(), "removed");
    assert!(m[3].as_ref().unwrap().deaf);
    assert_eq!(hlen(&conn, keys.thread_members(G, 500)).await, 1);
    assert_eq!(hlen(&conn, keys.guild_stage_instances(G)).await, 1);
    assert_eq!(hlen(&conn, keys.guild_scheduled_events(G)).await, 1);
    assert_eq!(hlen(&conn, keys.guild_stickers(G)).await, 1);
    assert_eq!(hlen(&conn, keys.guild_emojis(G)).await, 0);
    // GUILD_DELETE without `unavailable`: the bot left; nothing of the guild remains.
    let left = envelopes(&[dispatch("GUILD_DELETE", json!({"id": g}))], 0, "e", 100);
    projector.apply_batch(&parse(&left)).await.unwrap();
    let remaining: Vec<String> = redis::cmd("KEYS")
        .arg(format!("dd:guild:{G}*"))
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    assert!(remaining.is_empty(), "{remaining:?}");
}

/// The cached message's `reactions` after the frames, as stored.
async fn reactions(conn: &redis::aio::ConnectionManager, keys: &Keys, c: u64, m: u64) -> Value {
    let text: String = redis::cmd("GET")
        .arg(keys.message(c, m))
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let message: Value = serde_json::from_str(&text).unwrap();
    message["reactions"].clone()
}

#[tokio::test]
async fn reactions_and_integrations_are_cached() {
    let server = RedisServer::start().unwrap();
    let conn = redis(&server.url()).await;
    let keys = Keys::new("r:");
    let fixtures = Fixtures::load();
    let g = G.to_string();
    let me: String = fixtures.ready["d"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (c, m) = (4242u64, 4343u64);
    let message = json!({"id": m.to_string(), "channel_id": c.to_string(), "guild_id": g,
        "author": member(71)["user"], "member": {"roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0},
        "content": "hi", "timestamp": "2024-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "type": 0, "x_new_message_field": {"kept": true}});
    let react = |t: &str, user: &str, emoji: Value, burst: bool| {
        dispatch(
            t,
            json!({"user_id": user, "channel_id": c.to_string(), "message_id": m.to_string(),
                   "guild_id": g, "emoji": emoji, "burst": burst, "burst_colors": [], "type": u8::from(burst)}),
        )
    };
    let wave = json!({"id": null, "name": "👋"});
    let custom = json!({"id": "777", "name": "party", "animated": true});
    let frames = vec![
        fixtures.ready_for("e", &[G]),
        fixtures.guild_create(G),
        dispatch("MESSAGE_CREATE", message),
        react("MESSAGE_REACTION_ADD", "71", wave.clone(), false),
        react("MESSAGE_REACTION_ADD", &me, wave.clone(), false),
        react("MESSAGE_REACTION_ADD", "72", custom.clone(), true),
        react("MESSAGE_REACTION_ADD", "73", custom.clone(), false),
        react("MESSAGE_REACTION_REMOVE", "73", custom.clone(), false),
        dispatch(
            "INTEGRATION_CREATE",
            json!({"id": "900", "guild_id": g, "name": "bot", "type": "discord", "enabled": true, "account": {"id": "1", "name": "a"}, "x_integration": 1}),
        ),
        dispatch(
            "INTEGRATION_CREATE",
            json!({"id": "901", "guild_id": g, "name": "gone", "type": "twitch", "enabled": true, "account": {"id": "2", "name": "b"}}),
        ),
        dispatch(
            "INTEGRATION_DELETE",
            json!({"id": "901", "guild_id": g, "application_id": "3"}),
        ),
    ];
    let config = ProjectionConfig {
        message_cache: 10,
        ..ProjectionConfig::default()
    };
    let mut projector = Projector::new(conn.clone(), keys.clone(), config.clone());
    let outcomes = projector
        .apply_batch(&parse(&envelopes(&frames, 0, "e", 1)))
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Applied { .. })),
        "{outcomes:?}"
    );
    assert_eq!(
        reactions(&conn, &keys, c, m).await,
        json!([
            {"count": 2, "count_details": {"burst": 0, "normal": 2}, "me": true, "me_burst": false, "emoji": wave, "burst_colors": []},
            {"count": 1, "count_details": {"burst": 1, "normal": 0}, "me": false, "me_burst": false, "emoji": custom, "burst_colors": []}
        ])
    );
    let text: String = redis::cmd("HGET")
        .arg(keys.guild_integrations(G))
        .arg("900")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["x_integration"],
        1
    );
    assert_eq!(hlen(&conn, keys.guild_integrations(G)).await, 1);

    // Removing the emoji, then everything.
    let mut more = frames.clone();
    more.push(react(
        "MESSAGE_REACTION_REMOVE_EMOJI",
        "0",
        custom.clone(),
        false,
    ));
    more.push(react("MESSAGE_REACTION_REMOVE", &me, wave.clone(), false));
    let outcomes = projector
        .apply_batch(&parse(&envelopes(&more, 0, "e", 1)))
        .await
        .unwrap();
    assert!(
        outcomes[frames.len()..]
            .iter()
            .all(|o| matches!(o, Outcome::Applied { .. })),
        "{outcomes:?}"
    );
    assert_eq!(
        reactions(&conn, &keys, c, m).await,
        json!([{"count": 1, "count_details": {"burst": 0, "normal": 1}, "me": false, "me_burst": false, "emoji": wave, "burst_colors": []}])
    );
    more.push(dispatch(
        "MESSAGE_REACTION_REMOVE_ALL",
        json!({"channel_id": c.to_string(), "message_id": m.to_string(), "guild_id": g}),
    ));
    projector
        .apply_batch(&parse(&envelopes(&more, 0, "e", 1)))
        .await
        .unwrap();
    assert_eq!(reactions(&conn, &keys, c, m).await, json!([]));
    let text: String = redis::cmd("GET")
        .arg(keys.message(c, m))
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let stored: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stored["x_new_message_field"], json!({"kept": true}));
}

/// A script's member request (chunks with a nonce) marks the guild `members_chunked` once the
/// cache holds its `member_count` members, and not before.
#[tokio::test]
async fn a_requests_last_chunk_marks_the_guild_chunked_when_every_member_is_cached() {
    let server = RedisServer::start().unwrap();
    let conn = redis(&server.url()).await;
    let keys = Keys::default();
    let fixtures = Fixtures::load();
    let g = G.to_string();
    // The GUILD_CREATE of a large guild: two members missing.
    let mut create = fixtures.guild_create(G);
    let sent = create["d"]["members"].as_array().unwrap().len();
    create["d"]["member_count"] = json!(sent + 2);
    let chunk = |members: Vec<Value>, nonce: &str| {
        dispatch(
            "GUILD_MEMBERS_CHUNK",
            json!({"guild_id": g, "members": members, "chunk_index": 0, "chunk_count": 1, "nonce": nonce}),
        )
    };
    let reader = CacheReader::new(conn.clone(), keys.clone());
    let mut projector = Projector::new(conn.clone(), keys.clone(), ProjectionConfig::default());

    let frames = vec![
        fixtures.ready_for("c", &[G]),
        create,
        chunk(vec![member(91)], "some"),
    ];
    projector
        .apply_batch(&parse(&envelopes(&frames, 0, "c", 1)))
        .await
        .unwrap();
    let state = reader.guild_state(G).await.unwrap().unwrap();
    assert!(!state.members_chunked, "one of the two missing members");

    let frames = vec![chunk(vec![member(91), member(92)], "all")];
    projector
        .apply_batch(&parse(&envelopes(&frames, 0, "c", 4)))
        .await
        .unwrap();
    let state = reader.guild_state(G).await.unwrap().unwrap();
    assert!(state.members_chunked, "every member is cached");
    assert_eq!(
        hlen(&conn, keys.guild_members(G)).await,
        sent + 2,
        "the members the chunks carried"
    );
}
