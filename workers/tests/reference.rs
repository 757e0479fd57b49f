//! The projection of the captured fixtures equals twilight-cache-inmemory fed the same events,
//! entity by entity; duplicates and redeliveries give the same Redis state; a fresh IDENTIFY
//! retires a guild it no longer lists without others vanishing for a concurrent reader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ddiscord::cache::{CacheReader, Keys};
use ddiscord_testkit::RedisServer;
use ddiscord_workers::{Outcome, ProjectionConfig, Projector};
use serde::de::DeserializeSeed;
use twilight_cache_inmemory::DefaultInMemoryCache;
use twilight_model::gateway::event::GatewayEventDeserializer;

fn reference(frames: &[bytes::Bytes]) -> DefaultInMemoryCache {
    let cache = DefaultInMemoryCache::new();
    for env in frames {
        let text = std::str::from_utf8(env).unwrap();
        let Some(de) = GatewayEventDeserializer::from_json(text) else {
            continue;
        };
        let mut json = serde_json::Deserializer::from_str(text);
        if let Ok(event) = de.deserialize(&mut json) {
            cache.update(&twilight_model::gateway::event::Event::from(event));
        }
    }
    cache
}

/// The last user object (an object with `id` and `username`) of each user in the stream.
fn newest_users(
    frames: &[bytes::Bytes],
) -> std::collections::HashMap<u64, twilight_model::user::User> {
    fn walk(
        v: &serde_json::Value,
        out: &mut std::collections::HashMap<u64, twilight_model::user::User>,
    ) {
        match v {
            serde_json::Value::Object(map) => {
                if map.contains_key("username")
                    && let Ok(user) =
                        serde_json::from_value::<twilight_model::user::User>(v.clone())
                {
                    out.insert(user.id.get(), user);
                }
                map.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = std::collections::HashMap::new();
    for f in frames {
        let v: serde_json::Value = serde_json::from_slice(f).unwrap();
        if v["t"] != "READY" {
            walk(&v["d"], &mut out);
        }
    }
    out
}

async fn compare(
    cache: &DefaultInMemoryCache,
    reader: &CacheReader<redis::aio::ConnectionManager>,
    newest_users: &std::collections::HashMap<u64, twilight_model::user::User>,
) {
    let mut checked = [0usize; 5];
    for guild in cache.iter().guilds() {
        let ours = reader.guild(guild.id().get()).await.unwrap().unwrap();
        assert_eq!(ours.name, guild.name());
        assert_eq!(ours.owner_id, guild.owner_id());
        assert_eq!(ours.member_count, guild.member_count(), "member count");
        assert_eq!(ours.icon.as_ref(), guild.icon());
        assert_eq!(ours.features, guild.features().cloned().collect::<Vec<_>>());
        assert_eq!(ours.verification_level, guild.verification_level());
        assert_eq!(ours.system_channel_id, guild.system_channel_id());
        assert_eq!(ours.afk_timeout, guild.afk_timeout());
        assert_eq!(ours.premium_tier, guild.premium_tier());
        assert_eq!(ours.description.as_deref(), guild.description());
        let channels = cache.guild_channels(guild.id()).map_or(0, |c| c.len());
        assert_eq!(
            reader.channels(guild.id().get()).await.unwrap().len(),
            channels
        );
        let roles = cache.guild_roles(guild.id()).map_or(0, |c| c.len());
        assert_eq!(reader.roles(guild.id().get()).await.unwrap().len(), roles);
        let members = cache.guild_members(guild.id()).map_or(0, |c| c.len());
        assert_eq!(
            reader.member_ids(guild.id().get()).await.unwrap().len(),
            members
        );
        checked[0] += 1;
    }
    for channel in cache.iter().channels() {
        let ours = reader.channel(channel.id.get()).await.unwrap();
        assert_eq!(
            ours.as_ref(),
            Some(channel.value()),
            "channel {}",
            channel.id
        );
        checked[1] += 1;
    }
    for role in cache.iter().roles() {
        let ours = reader
            .role(role.guild_id().get(), role.resource().id.get())
            .await
            .unwrap();
        assert_eq!(ours.as_ref(), Some(role.resource()), "role");
        checked[2] += 1;
    }
    // Members in batches: one round trip each.
    let mut by_guild: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for member in cache.iter().members() {
        by_guild
            .entry(member.key().0.get())
            .or_default()
            .push(member.key().1.get());
    }
    for (guild, users) in by_guild {
        for chunk in users.chunks(1000) {
            let ours = reader.members(guild, chunk).await.unwrap();
            for (user, ours) in chunk.iter().zip(ours) {
                let theirs = cache
                    .member(
                        twilight_model::id::Id::new(guild),
                        twilight_model::id::Id::new(*user),
                    )
                    .unwrap();
                let ours = ours.unwrap_or_else(|| panic!("member {guild}/{user} missing"));
                assert_eq!(ours.user.id, theirs.user_id());
                assert_eq!(ours.roles, theirs.roles());
                assert_eq!(ours.nick.as_deref(), theirs.nick());
                assert_eq!(ours.joined_at, theirs.joined_at());
                assert_eq!(ours.avatar, theirs.avatar());
                assert_eq!(ours.premium_since, theirs.premium_since());
                assert_eq!(ours.pending, theirs.pending());
                assert_eq!(
                    ours.communication_disabled_until,
                    theirs.communication_disabled_until()
                );
                assert_eq!(Some(ours.deaf), theirs.deaf().or(Some(ours.deaf)));
                assert_eq!(Some(ours.mute), theirs.mute().or(Some(ours.mute)));
                checked[3] += 1;
            }
        }
    }
    for user in cache.iter().users() {
        let Some(ours) = reader.user(user.id.get()).await.unwrap() else {
            // Known difference: the projection keeps a user only while a cached guild holds
            // it as a member; twilight also keeps authors of direct messages and webhooks.
            let held = cache.user_guilds(user.id).is_some_and(|g| !g.is_empty());
            assert!(!held, "user {} is a member but not cached", user.id);
            continue;
        };
        if &ours != user.value() {
            // Known difference: twilight keeps a stale user when a member object arrives
            // unchanged with a changed user (`cache_member` returns early); the projection
            // keeps the newest user object of the stream.
            let newest = newest_users.get(&user.id.get()).unwrap();
            assert_eq!(&ours, newest, "user {}", user.id);
        }
        checked[4] += 1;
    }
    assert!(checked.iter().all(|c| *c > 0), "{checked:?}");
}

#[tokio::test]
async fn fixtures_equal_twilight_cache() {
    let server = RedisServer::start().unwrap();
    let conn = redis(&server.url()).await;
    let fixtures = Fixtures::load();
    // INTERACTION_CREATE is not projected (interactions carry partial members and resolved
    // data that twilight caches; the state worker leaves them to the scripts that handle the
    // interaction), so it is left out of the compared stream.
    let frames: Vec<_> = fixtures
        .session("s1")
        .into_iter()
        .filter(|f| f["t"] != "INTERACTION_CREATE")
        .collect();
    let envs = envelopes(&frames, 0, "s1", 1);
    let mut projector = Projector::new(conn.clone(), Keys::default(), ProjectionConfig::default());
    let outcomes = projector.apply_batch(&parse(&envs)).await.unwrap();
    assert!(
        !outcomes.iter().any(|o| matches!(o, Outcome::Rejected(_))),
        "{outcomes:?}"
    );
    // The undocumented events are counted as unknown, not errors.
    assert!(outcomes.iter().any(|o| matches!(
        o,
        Outcome::Skipped(ddiscord_workers::projection::Skip::Unknown)
    )));
    let cache = reference(&envs);
    let reader = CacheReader::new(conn, Keys::default());
    compare(&cache, &reader, &newest_users(&envs)).await;
    let state = reader.guild_state(LARGE_GUILD).await.unwrap().unwrap();
    assert!(state.complete);
    assert!(
        !state.members_chunked,
        "GUILD_CREATE carried 9,593 of 18,552"
    );
    assert_eq!(state.shard, Some(0));
}

#[tokio::test]
async fn duplicates_and_redeliveries_give_the_same_state() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let fixtures = Fixtures::load();
    let envs = parse(&envelopes(&fixtures.session("s1"), 0, "s1", 1));

    let mut once = Projector::new(
        conn.clone(),
        Keys::new("once:"),
        ProjectionConfig::default(),
    );
    once.apply_batch(&envs).await.unwrap();

    // Every event twice, then a redelivered window, one at a time and in batches.
    let mut noisy = Projector::new(
        conn.clone(),
        Keys::new("noisy:"),
        ProjectionConfig::default(),
    );
    let mut doubled = Vec::new();
    for e in &envs {
        doubled.push(e.clone());
        doubled.push(e.clone());
    }
    for chunk in doubled.chunks(7) {
        noisy.apply_batch(chunk).await.unwrap();
    }
    let outcomes = noisy.apply_batch(&envs[3..20]).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Duplicate | Outcome::Skipped(_)))
    );
    for e in envs.iter().rev().take(5) {
        noisy.apply(e).await.unwrap();
    }
    let a = snapshot(&mut conn, "once:").await;
    let b = snapshot(&mut conn, "noisy:").await;
    assert!(a.len() > 9_000);
    assert_eq!(a, b);
}

#[tokio::test]
async fn fresh_identify_retires_missing_guild_without_gaps() {
    let server = RedisServer::start().unwrap();
    let conn = redis(&server.url()).await;
    let fixtures = Fixtures::load();
    let keys = Keys::default();
    let mut projector = Projector::new(conn.clone(), keys.clone(), ProjectionConfig::default());
    let all = [LARGE_GUILD, V10_GUILD_A, V10_GUILD_B];
    let mut first = vec![fixtures.ready_for("s1", &all)];
    first.extend(all.iter().map(|g| fixtures.guild_create(*g)));
    projector
        .apply_batch(&parse(&envelopes(&first, 0, "s1", 1)))
        .await
        .unwrap();
    let reader = CacheReader::new(conn.clone(), keys.clone());
    assert!(reader.guild(V10_GUILD_B).await.unwrap().is_some());

    // A concurrent reader of the guilds that stay: they must never be missing.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let reader = CacheReader::new(conn.clone(), keys.clone());
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for g in [LARGE_GUILD, V10_GUILD_A] {
                    assert!(
                        reader.guild(g).await.unwrap().is_some(),
                        "guild {g} vanished"
                    );
                    assert!(
                        !reader.channels(g).await.unwrap().is_empty(),
                        "channels of {g} vanished"
                    );
                    reads += 1;
                }
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    // A new session (fresh IDENTIFY) that no longer lists guild B.
    let kept = [LARGE_GUILD, V10_GUILD_A];
    let mut second = vec![fixtures.ready_for("s2", &kept)];
    second.extend(kept.iter().map(|g| fixtures.guild_create(*g)));
    let envs = parse(&envelopes(&second, 0, "s2", 1));
    projector.apply(&envs[0]).await.unwrap();
    assert!(reader.guild(V10_GUILD_B).await.unwrap().is_none());
    assert!(reader.channels(V10_GUILD_B).await.unwrap().is_empty());
    assert_eq!(
        reader
            .guild_state(LARGE_GUILD)
            .await
            .unwrap()
            .map(|s| s.complete),
        Some(false)
    );
    for e in &envs[1..] {
        projector.apply(e).await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(watcher.await.unwrap() > 0);
    let state = reader.guild_state(LARGE_GUILD).await.unwrap().unwrap();
    assert!(state.complete);
    assert_eq!(state.generation, 2);
    // Nothing of guild B is left, and its channels are no longer indexed.
    let mut c = conn.clone();
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(format!("dd:guild:{V10_GUILD_B}*"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");

    // A late redelivery of the replaced session changes nothing.
    let old = parse(&envelopes(&first, 0, "s1", 1));
    let outcomes = projector.apply_batch(&old).await.unwrap();
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Duplicate),
        "{outcomes:?}"
    );
    assert!(reader.guild(V10_GUILD_B).await.unwrap().is_none());
}

#[tokio::test]
async fn simulator_traffic_equals_twilight_cache() {
    let server = RedisServer::start().unwrap();
    let conn = redis(&server.url()).await;
    let sim_fixtures =
        ddiscord_sim::fixtures::Fixtures::load(&ddiscord_testkit::fixtures_dir(), false).unwrap();
    let mut world = ddiscord_sim::world::World::build(&sim_fixtures, 6).unwrap();
    let guilds: Vec<u64> = world.guilds.iter().map(|g| g.id).collect();
    let fixtures = Fixtures::load();
    let mut frames = vec![fixtures.ready_for("sim", &guilds)];
    for g in &world.guilds {
        frames.push(
            serde_json::json!({"op": 0, "t": "GUILD_CREATE", "s": 0, "d": g.guild_create(false)}),
        );
    }
    let mut traffic = ddiscord_sim::traffic::Traffic::new(7);
    for _ in 0..3_000 {
        let e = traffic.next_event(&mut world).unwrap();
        frames.push(serde_json::json!({"op": 0, "t": e.name, "s": 0, "d": e.data}));
    }
    let envs = envelopes(&frames, 0, "sim", 1);
    let mut projector = Projector::new(conn.clone(), Keys::default(), ProjectionConfig::default());
    let outcomes = projector.apply_batch(&parse(&envs)).await.unwrap();
    let rejected: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Rejected(_)))
        .collect();
    assert!(rejected.is_empty(), "{rejected:?}");
    let cache = reference(&envs);
    let reader = CacheReader::new(conn, Keys::default());
    compare(&cache, &reader, &newest_users(&envs)).await;
}
