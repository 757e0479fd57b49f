#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Leases against a real Redis.

use std::collections::BTreeSet;
use std::time::Duration;

use ddiscord_coord::{Fence, Lease, LeaseConfig, LeaseEvent, Leases};
use ddiscord_testkit::RedisServer;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const TTL: Duration = Duration::from_millis(600);

async fn conn(redis: &RedisServer) -> ConnectionManager {
    let client = redis::Client::open(redis.url()).unwrap();
    ConnectionManager::new(client).await.unwrap()
}

fn config(node: &str, partitions: u32) -> LeaseConfig {
    let mut c = LeaseConfig::new("ingest", partitions).with_ttl(TTL);
    c.node_id = node.to_owned();
    c
}

/// Waits until `cond` holds, checking every 20 ms, for at most 10 s.
async fn until(mut cond: impl FnMut() -> bool) {
    timeout(Duration::from_secs(10), async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("condition not reached within 10 s");
}

/// Receives `n` events (waiting at most 10 s).
async fn take(rx: &mut Receiver<LeaseEvent>, n: usize) -> Vec<LeaseEvent> {
    let mut v = Vec::new();
    while v.len() < n {
        v.push(
            timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    v
}

#[tokio::test]
async fn one_node_claims_all_and_shutdown_releases() {
    let redis = RedisServer::start().unwrap();
    let (a, mut rx) = Leases::start(conn(&redis).await, config("a", 8))
        .await
        .unwrap();
    let held = a.held();
    assert_eq!(held.len(), 8);
    assert!(held.iter().all(|l| l.token == 1));
    let events = take(&mut rx, 8).await;
    assert!(events.iter().all(|e| matches!(e, LeaseEvent::Acquired(_))));
    a.shutdown().await.unwrap();
    let mut c = conn(&redis).await;
    let owner: Option<String> = redis::cmd("HGET")
        .arg("dd:lease:ingest:0")
        .arg("owner")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(owner, None);
    // The next owner gets a higher token at once.
    let (b, _rx) = Leases::start(conn(&redis).await, config("b", 8))
        .await
        .unwrap();
    assert!(b.held().iter().all(|l| l.token == 2));
    assert_eq!(b.held().len(), 8);
}

#[tokio::test]
async fn two_nodes_split_and_takeover_after_crash() {
    let redis = RedisServer::start().unwrap();
    let (a, _arx) = Leases::start(conn(&redis).await, config("a", 8))
        .await
        .unwrap();
    let (b, mut brx) = Leases::start(conn(&redis).await, config("b", 8))
        .await
        .unwrap();
    until(|| a.held().len() == 4 && b.held().len() == 4).await;
    let a_parts: BTreeSet<u32> = a.held().iter().map(|l| l.partition).collect();
    let b_parts: BTreeSet<u32> = b.held().iter().map(|l| l.partition).collect();
    assert!(a_parts.is_disjoint(&b_parts));
    let old_a = a.held();
    // A crashes: no release; B takes over once A's leases expire.
    drop(a);
    until(|| b.held().len() == 8).await;
    let by_part: std::collections::HashMap<u32, Lease> =
        b.held().into_iter().map(|l| (l.partition, l)).collect();
    for l in &old_a {
        assert!(by_part[&l.partition].token > l.token, "fencing token grows");
    }
    let mut acquired = BTreeSet::new();
    while acquired.len() < 8 {
        if let LeaseEvent::Acquired(l) = take(&mut brx, 1).await[0] {
            acquired.insert(l.partition);
        }
    }
}

#[tokio::test]
async fn fence_refuses_a_stale_owner() {
    let redis = RedisServer::start().unwrap();
    let (a, _arx) = Leases::start(conn(&redis).await, config("a", 2))
        .await
        .unwrap();
    let stale = a.guard(0).unwrap();
    let old = stale.lease();
    let write = Fence::script("redis.call('SET', KEYS[2], ARGV[2]) return 1");
    let mut c = conn(&redis).await;
    let ok: i64 = write
        .invocation("dd:", "ingest", old)
        .key("dd:test:session:0")
        .arg("first")
        .invoke_async(&mut c)
        .await
        .unwrap();
    assert_eq!(ok, 1);
    assert!(
        Fence::is_current(&mut c, "dd:", "ingest", old)
            .await
            .unwrap()
    );
    // A stops renewing (crash); B takes over.
    drop(a);
    let (b, _brx) = Leases::start(conn(&redis).await, config("b", 2))
        .await
        .unwrap();
    until(|| b.held().len() == 2).await;
    assert!(!stale.is_valid(), "a guard turns invalid after the TTL");
    let err = write
        .invocation("dd:", "ingest", old)
        .key("dd:test:session:0")
        .arg("stale")
        .invoke_async::<i64>(&mut c)
        .await
        .unwrap_err();
    assert!(Fence::is_fenced_error(&err), "{err}");
    let value: String = redis::cmd("GET")
        .arg("dd:test:session:0")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(value, "first");
    assert!(
        !Fence::is_current(&mut c, "dd:", "ingest", old)
            .await
            .unwrap()
    );
    let new = b.guard(0).unwrap().lease();
    assert!(
        Fence::is_current(&mut c, "dd:", "ingest", new)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn redis_down_loses_leases_after_ttl_and_they_come_back() {
    let mut redis = RedisServer::start().unwrap();
    let (a, mut rx) = Leases::start(conn(&redis).await, config("a", 3))
        .await
        .unwrap();
    let guard = a.guard(1).unwrap();
    take(&mut rx, 3).await;
    redis.stop();
    let lost = timeout(Duration::from_secs(10), async {
        let mut lost = 0;
        while lost < 3 {
            if let Some(LeaseEvent::Lost(_)) = rx.recv().await {
                lost += 1;
            }
        }
    })
    .await;
    assert!(lost.is_ok(), "all leases lost while Redis is down");
    assert!(!guard.is_valid());
    assert!(a.held().is_empty());
    redis.start_again().unwrap();
    until(|| a.held().len() == 3).await;
}

#[tokio::test]
async fn explicit_release_and_bad_config() {
    let redis = RedisServer::start().unwrap();
    let (a, mut rx) = Leases::start(conn(&redis).await, config("a", 2))
        .await
        .unwrap();
    take(&mut rx, 2).await;
    let l = a.guard(1).unwrap().lease();
    a.release(1).await.unwrap();
    assert_eq!(rx.recv().await, Some(LeaseEvent::Released(l)));
    assert!(a.release(5).await.is_err());
    let mut bad = config("x", 0);
    assert!(
        Leases::start(conn(&redis).await, bad.clone())
            .await
            .is_err()
    );
    bad.partitions = 2;
    bad.renew_interval = bad.ttl;
    assert!(Leases::start(conn(&redis).await, bad).await.is_err());
}

#[tokio::test]
async fn surplus_is_handed_over_only_once_its_owner_releases_it() {
    let redis = RedisServer::start().unwrap();
    let (a, mut arx) = Leases::start(conn(&redis).await, config("a", 4).with_handover(true))
        .await
        .unwrap();
    assert_eq!(take(&mut arx, 4).await.len(), 4);
    let (b, _brx) = Leases::start(conn(&redis).await, config("b", 4).with_handover(true))
        .await
        .unwrap();
    // A is asked to hand two leases over, once each, and keeps them until it releases them.
    let mut surplus = Vec::new();
    while surplus.len() < 2 {
        match take(&mut arx, 1).await[0] {
            LeaseEvent::Surplus(l) => surplus.push(l),
            other => panic!("expected a surplus lease, got {other:?}"),
        }
    }
    // A few rounds later (renewals every TTL / 3), B still holds nothing: A still holds all.
    tokio::time::sleep(TTL * 2).await;
    assert_eq!(
        a.held().len(),
        4,
        "surplus leases stay with their owner until released"
    );
    assert!(b.held().is_empty());
    assert!(arx.try_recv().is_err(), "the surplus is announced once");
    for l in &surplus {
        a.release(l.partition).await.unwrap();
        assert_eq!(take(&mut arx, 1).await[0], LeaseEvent::Released(*l));
    }
    until(|| b.held().len() == 2 && a.held().len() == 2).await;
    let moved: BTreeSet<u32> = b.held().iter().map(|l| l.partition).collect();
    assert_eq!(moved, surplus.iter().map(|l| l.partition).collect());
}
