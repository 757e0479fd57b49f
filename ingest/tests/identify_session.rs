#![allow(clippy::unwrap_used, clippy::expect_used)]
//! IDENTIFY coordination and session persistence against a real Redis.

use std::time::{Duration, Instant};

use ddiscord::coord::{LeaseConfig, Leases};
use ddiscord_ingest::gateway_info::GatewayInfo;
use ddiscord_ingest::identify::{IdentifyDecision, IdentifyLimiter, IdentifyNotice, RedisQueue};
use ddiscord_ingest::session::{SessionStore, StoredSession};
use ddiscord_testkit::RedisServer;
use redis::aio::ConnectionManager;
use twilight_gateway::queue::Queue;

async fn conn(redis: &RedisServer) -> ConnectionManager {
    ConnectionManager::new(redis::Client::open(redis.url()).unwrap())
        .await
        .unwrap()
}

fn info(remaining: u64) -> GatewayInfo {
    GatewayInfo {
        shards: 4,
        total: 1000,
        remaining,
        reset_after_ms: 3_600_000,
        max_concurrency: 2,
    }
}

#[tokio::test]
async fn one_identify_per_bucket_per_window_and_budget_is_spent() {
    let redis = RedisServer::start().unwrap();
    let limiter = IdentifyLimiter::new(conn(&redis).await, "dd:", 2, 1);
    limiter.record_gateway_info(&info(10)).await.unwrap();
    // Shards 0 and 1 are in different buckets: both go at once.
    assert_eq!(
        limiter.decide(0, "a").await.unwrap(),
        IdentifyDecision::Go { remaining: Some(9) }
    );
    assert_eq!(
        limiter.decide(1, "b").await.unwrap(),
        IdentifyDecision::Go { remaining: Some(8) }
    );
    // Shard 2 shares bucket 0 with shard 0: it must wait about 5 s, from any node.
    match limiter.decide(2, "b").await.unwrap() {
        IdentifyDecision::Wait { wait_ms } => assert!((4000..=5000).contains(&wait_ms)),
        other => panic!("expected a wait, got {other:?}"),
    }
    assert_eq!(limiter.budget().await.unwrap().unwrap().remaining, 8);
}

#[tokio::test]
async fn reserve_refuses_identify() {
    let redis = RedisServer::start().unwrap();
    let limiter = IdentifyLimiter::new(conn(&redis).await, "dd:", 1, 5);
    limiter.record_gateway_info(&info(6)).await.unwrap();
    assert_eq!(
        limiter.decide(0, "a").await.unwrap(),
        IdentifyDecision::Go { remaining: Some(5) }
    );
    assert_eq!(
        limiter.decide(1, "a").await.unwrap(),
        IdentifyDecision::Refused { remaining: 5 }
    );
    // Through twilight's queue: never answered, and a notice says why.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let queue = RedisQueue::new(limiter.clone(), "a", tx);
    let mut answer = queue.enqueue(3);
    assert_eq!(
        rx.recv().await.unwrap(),
        IdentifyNotice::Refused {
            shard: 3,
            remaining: 5,
            reserve: 5
        }
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut answer)
            .await
            .is_err()
    );
    assert_eq!(limiter.budget().await.unwrap().unwrap().remaining, 5);
}

#[tokio::test]
async fn queue_answers_in_turn() {
    let redis = RedisServer::start().unwrap();
    let limiter = IdentifyLimiter::new(conn(&redis).await, "dd:", 16, 0);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let queue = RedisQueue::new(limiter, "a", tx);
    let start = Instant::now();
    queue.enqueue(0).await.unwrap();
    queue.enqueue(1).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    // Unknown budget: allowed, remaining unknown.
    assert_eq!(
        rx.recv().await.unwrap(),
        IdentifyNotice::Allowed {
            shard: 0,
            remaining: None
        }
    );
}

#[tokio::test]
async fn sessions_are_fenced_by_the_lease() {
    let redis = RedisServer::start().unwrap();
    let mut cfg = LeaseConfig::new("ingest", 2).with_ttl(Duration::from_millis(500));
    cfg.node_id = "a".into();
    let (a, _rx) = Leases::start(conn(&redis).await, cfg.clone())
        .await
        .unwrap();
    let lease = a.guard(1).unwrap().lease();
    let store = SessionStore::new(conn(&redis).await, "dd:", "ingest", 2);
    assert_eq!(store.load(1).await.unwrap(), None);
    let s = StoredSession {
        session_id: "abc".into(),
        sequence: 42,
        resume_url: Some("ws://x".into()),
    };
    store.save(lease, "a", &s).await.unwrap();
    assert_eq!(store.load(1).await.unwrap(), Some(s.clone()));
    // Another shard count: not resumable.
    let other = SessionStore::new(conn(&redis).await, "dd:", "ingest", 4);
    assert_eq!(other.load(1).await.unwrap(), None);
    // A takes a pause past its TTL; B takes over and writes; A's late write is refused.
    drop(a);
    cfg.node_id = "b".into();
    let (b, _rx) = Leases::start(conn(&redis).await, cfg.clone())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.held().len() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let newer = StoredSession {
        sequence: 50,
        ..s.clone()
    };
    store
        .save(b.guard(1).unwrap().lease(), "b", &newer)
        .await
        .unwrap();
    let stale = StoredSession {
        sequence: 43,
        ..s.clone()
    };
    let err = store.save(lease, "a", &stale).await.unwrap_err();
    assert!(err.is_fenced(), "{err}");
    assert_eq!(store.load(1).await.unwrap(), Some(newer));
}
