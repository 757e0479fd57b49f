//! A batch of dispatches applied in one script call gives the outcomes and the Redis state of
//! the same events applied one at a time: duplicates, gaps (held and accepted), a new
//! session's READY part-way, several shards, a fenced batch and a batch retried after the
//! script failed part-way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use ddiscord::Envelope;
use ddiscord::cache::{CacheReader, Keys};
use ddiscord_testkit::RedisServer;
use ddiscord_workers::projection::ProjectionErrorKind;
use ddiscord_workers::{Fencing, Gaps, Outcome, ProjectionConfig, Projector};
use redis::aio::ConnectionManager;
use serde_json::Value;

fn projector(conn: &ConnectionManager, prefix: &str) -> Projector<ConnectionManager> {
    Projector::new(conn.clone(), Keys::new(prefix), ProjectionConfig::default())
}

/// `envs` applied one event per call.
async fn one_by_one(
    p: &mut Projector<ConnectionManager>,
    envs: &[Envelope],
    gaps: Gaps,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for e in envs {
        out.extend(
            p.apply_fenced(std::slice::from_ref(e), None, gaps)
                .await
                .unwrap(),
        );
    }
    out
}

/// Applies `envs` one by one under `one:` and as one batch under `batch:`, and checks that
/// outcomes and cache are the same; returns the batch's outcomes.
async fn same_as_one_by_one(
    conn: &mut ConnectionManager,
    envs: &[Envelope],
    gaps: Gaps,
) -> Vec<Outcome> {
    let expected = one_by_one(&mut projector(conn, "one:"), envs, gaps).await;
    let outcomes = projector(conn, "batch:")
        .apply_fenced(envs, None, gaps)
        .await
        .unwrap();
    assert_eq!(outcomes, expected);
    assert_eq!(snapshot(conn, "batch:").await, snapshot(conn, "one:").await);
    outcomes
}

/// A session of the sim's traffic: READY, GUILD_CREATEs, then `events` dispatches (members
/// joining and leaving, messages, reactions, …).
fn sim_session(session: &str, seed: u64, events: usize) -> Vec<Value> {
    let sim_fixtures =
        ddiscord_sim::fixtures::Fixtures::load(&ddiscord_testkit::fixtures_dir(), false).unwrap();
    let mut world = ddiscord_sim::world::World::build(&sim_fixtures, 4).unwrap();
    let guilds: Vec<u64> = world.guilds.iter().map(|g| g.id).collect();
    let mut frames = vec![Fixtures::load().ready_for(session, &guilds)];
    for g in &world.guilds {
        frames.push(
            serde_json::json!({"op": 0, "t": "GUILD_CREATE", "s": 0, "d": g.guild_create(false)}),
        );
    }
    let mut traffic = ddiscord_sim::traffic::Traffic::new(seed);
    for _ in 0..events {
        let e = traffic.next_event(&mut world).unwrap();
        frames.push(serde_json::json!({"op": 0, "t": e.name, "s": 0, "d": e.data}));
    }
    frames
}

#[tokio::test]
async fn batch_with_duplicates_equals_one_by_one() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let envs = parse(&envelopes(&sim_session("s1", 11, 1_500), 0, "s1", 1));
    // Redeliveries inside the batch: every 7th event again right away, and an earlier window
    // again later.
    let mut noisy = Vec::new();
    for (i, e) in envs.iter().enumerate() {
        noisy.push(e.clone());
        if i % 7 == 3 {
            noisy.push(e.clone());
        }
        if i == 900 {
            noisy.extend_from_slice(&envs[400..450]);
        }
    }
    let outcomes = same_as_one_by_one(&mut conn, &noisy, Gaps::Hold).await;
    let duplicates = outcomes
        .iter()
        .filter(|o| **o == Outcome::Duplicate)
        .count();
    assert_eq!(duplicates, noisy.len() - envs.len());
    assert!(!outcomes.contains(&Outcome::Gap));
    assert!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Applied { .. }))
            .count()
            > 500
    );
}

#[tokio::test]
async fn gap_mid_batch_is_held_with_the_rest_of_its_session_or_accepted() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let envs = parse(&envelopes(&sim_session("s1", 12, 300), 0, "s1", 1));
    // Sequence 101 is missing.
    let holed: Vec<Envelope> = envs[..100].iter().chain(&envs[101..]).cloned().collect();

    let outcomes = same_as_one_by_one(&mut conn, &holed, Gaps::Hold).await;
    assert!(
        outcomes[..100]
            .iter()
            .all(|o| !matches!(o, Outcome::Gap | Outcome::Duplicate))
    );
    assert!(outcomes[100..].iter().all(|o| *o == Outcome::Gap));
    // Once the gap is filled, the held events apply: the same state as the whole session.
    let mut batch = projector(&conn, "batch:");
    let rest = batch
        .apply_fenced(&envs[100..], None, Gaps::Hold)
        .await
        .unwrap();
    assert!(!rest.contains(&Outcome::Gap) && !rest.contains(&Outcome::Duplicate));
    projector(&conn, "whole:")
        .apply_fenced(&envs, None, Gaps::Hold)
        .await
        .unwrap();
    assert_eq!(
        snapshot(&mut conn, "batch:").await,
        snapshot(&mut conn, "whole:").await
    );

    // Accepted: the events after the gap apply, as one by one.
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let outcomes = same_as_one_by_one(&mut conn, &holed, Gaps::Accept).await;
    assert!(!outcomes.contains(&Outcome::Gap));
}

#[tokio::test]
async fn new_session_ready_mid_batch_retires_the_old_session() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let fixtures = Fixtures::load();
    let all = [LARGE_GUILD, V10_GUILD_A, V10_GUILD_B];
    let first = envelopes(&fixtures.session("s1"), 0, "s1", 1);
    // A fresh IDENTIFY that no longer lists guild B, then the old session's events again.
    let kept = [V10_GUILD_A, LARGE_GUILD];
    let mut second = vec![fixtures.ready_for("s2", &kept)];
    second.extend(kept.iter().map(|g| fixtures.guild_create(*g)));
    second.extend(fixtures.dispatches());
    let second = envelopes(&second, 0, "s2", 1);
    let mut batch: Vec<_> = first[..20].to_vec();
    batch.extend_from_slice(&second);
    batch.extend_from_slice(&first[10..30]);
    let outcomes = same_as_one_by_one(&mut conn, &parse(&batch), Gaps::Hold).await;
    assert!(
        outcomes[20 + second.len()..]
            .iter()
            .all(|o| *o == Outcome::Duplicate)
    );
    let reader = CacheReader::new(conn.clone(), Keys::new("batch:"));
    assert!(reader.guild(V10_GUILD_B).await.unwrap().is_none());
    let state = reader.guild_state(LARGE_GUILD).await.unwrap().unwrap();
    assert!(state.complete);
    assert_eq!(state.generation, 2);
    assert!(all.len() > kept.len());
}

#[tokio::test]
async fn shards_interleaved_in_one_batch_keep_their_own_sequences() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let a = parse(&envelopes(&sim_session("a", 13, 200), 0, "a", 1));
    let b = parse(&envelopes(&sim_session("b", 14, 200), 1, "b", 1));
    let mut mixed = Vec::new();
    for (x, y) in a.iter().zip(&b) {
        mixed.push(x.clone());
        mixed.push(y.clone());
    }
    let outcomes = same_as_one_by_one(&mut conn, &mixed, Gaps::Hold).await;
    assert!(!outcomes.contains(&Outcome::Gap) && !outcomes.contains(&Outcome::Duplicate));
}

#[tokio::test]
async fn fenced_batch_writes_nothing() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let envs = parse(&envelopes(&sim_session("s1", 15, 100), 3, "s1", 1));
    let _: () = redis::cmd("HSET")
        .arg("lease:3")
        .arg("token")
        .arg(8)
        .query_async(&mut conn)
        .await
        .unwrap();
    let stale = Fencing {
        key: "lease:3".into(),
        token: 7,
    };
    let mut batch = projector(&conn, "batch:");
    let err = batch
        .apply_fenced(&envs, Some(&stale), Gaps::Hold)
        .await
        .unwrap_err();
    assert_eq!(*err.kind(), ProjectionErrorKind::Fenced { shard: 3 });
    assert!(snapshot(&mut conn, "batch:").await.is_empty());

    let current = Fencing {
        key: "lease:3".into(),
        token: 8,
    };
    let outcomes = batch
        .apply_fenced(&envs, Some(&current), Gaps::Hold)
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Applied { .. } | Outcome::Skipped(_)))
    );
}

/// Makes the guild object of `guild` a hash, so the script's read of it as a string fails.
async fn break_guild(conn: &mut ConnectionManager, prefix: &str, guild: u64) -> String {
    let key = format!("{prefix}guild:{guild}");
    let json: String = redis::cmd("GET").arg(&key).query_async(conn).await.unwrap();
    let _: () = redis::pipe()
        .del(&key)
        .hset(&key, "not", "a string")
        .query_async(conn)
        .await
        .unwrap();
    json
}

async fn restore_guild(conn: &mut ConnectionManager, prefix: &str, guild: u64, json: &str) {
    let key = format!("{prefix}guild:{guild}");
    let _: () = redis::pipe()
        .del(&key)
        .set(&key, json)
        .query_async(conn)
        .await
        .unwrap();
}

async fn member_count(conn: &mut ConnectionManager, prefix: &str, guild: u64) -> String {
    redis::cmd("HGET")
        .arg(format!("{prefix}guild:{guild}:state"))
        .arg("member_count")
        .query_async(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn batch_retried_after_a_failure_part_way_applies_each_event_once() {
    let server = RedisServer::start().unwrap();
    let mut conn = redis(&server.url()).await;
    let fixtures = Fixtures::load();
    let g = V10_GUILD_A;
    let setup = vec![fixtures.ready_for("s1", &[g]), fixtures.guild_create(g)];
    // GUILD_MEMBER_ADD raises the state's member count, then the guild object's (which fails
    // while the guild object is not a string): the failure comes after a non-idempotent write.
    let mut add = fixtures
        .v6
        .iter()
        .find(|f| f["t"] == "GUILD_MEMBER_ADD")
        .unwrap()
        .clone();
    add["d"]["guild_id"] = Value::from(g.to_string());
    let mut frames = setup.clone();
    frames.extend(fixtures.dispatches().into_iter().take(10));
    frames.push(add);
    frames.extend(fixtures.dispatches().into_iter().skip(10));
    let envs = parse(&envelopes(&frames, 0, "s1", 1));
    let failing = setup.len() + 10;

    let mut results: BTreeMap<&str, Vec<Outcome>> = BTreeMap::new();
    for prefix in ["one:", "batch:"] {
        let mut p = projector(&conn, prefix);
        p.apply_batch(&envs[..setup.len()]).await.unwrap();
        let before: u64 = member_count(&mut conn, prefix, g).await.parse().unwrap();
        let json = break_guild(&mut conn, prefix, g).await;
        let rest = &envs[setup.len()..];
        let outcomes = if prefix == "one:" {
            let mut out = Vec::new();
            for (i, e) in rest.iter().enumerate() {
                let r = p.apply(e).await;
                if setup.len() + i == failing {
                    assert_eq!(*r.unwrap_err().kind(), ProjectionErrorKind::Redis);
                    restore_guild(&mut conn, prefix, g, &json).await;
                    out.push(p.apply(e).await.unwrap());
                } else {
                    out.push(r.unwrap());
                }
            }
            out
        } else {
            let err = p.apply_batch(rest).await.unwrap_err();
            assert_eq!(*err.kind(), ProjectionErrorKind::Redis);
            restore_guild(&mut conn, prefix, g, &json).await;
            p.apply_batch(rest).await.unwrap()
        };
        // The failed event is not applied again: its member count write happened once.
        assert_eq!(outcomes[failing - setup.len()], Outcome::Duplicate);
        let after: u64 = member_count(&mut conn, prefix, g).await.parse().unwrap();
        assert_eq!(after, before + 1, "{prefix}");
        results.insert(prefix, outcomes);
    }
    let batch = &results["batch:"];
    // The retry skips what the failed call applied and applies the rest.
    assert!(
        batch[..failing - setup.len()]
            .iter()
            .all(|o| matches!(o, Outcome::Duplicate | Outcome::Skipped(_)))
    );
    assert!(
        batch[failing - setup.len() + 1..]
            .iter()
            .any(|o| matches!(o, Outcome::Applied { .. }))
    );
    assert_eq!(
        snapshot(&mut conn, "batch:").await,
        snapshot(&mut conn, "one:").await
    );
}
