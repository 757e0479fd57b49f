#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Dead-letter streams against a real Redis.

use bytes::Bytes;
use ddiscord_coord::{DeadLetter, DeadLetters, dead_letters_key};
use ddiscord_testkit::RedisServer;
use redis::aio::ConnectionManager;

fn letter(n: u32) -> DeadLetter {
    DeadLetter {
        topic: format!("discord/{n}/-/READY"),
        // Not UTF-8: payloads are kept byte for byte.
        payload: Bytes::from(vec![0xff, 0x00, u8::try_from(n).unwrap()]),
        reason: "not_authorized".to_owned(),
        shard: n,
        at_ms: 1_763_719_200_000 + u64::from(n),
    }
}

#[tokio::test]
async fn record_list_delete() {
    let server = RedisServer::start().unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut redis = ConnectionManager::new(client).await.unwrap();
    let prefix = "t:";
    assert!(
        DeadLetters::list(&mut redis, prefix, "ingest", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let first = DeadLetters::record(&mut redis, prefix, "ingest", &letter(0))
        .await
        .unwrap();
    DeadLetters::record(&mut redis, prefix, "ingest", &letter(1))
        .await
        .unwrap();
    DeadLetters::record(&mut redis, prefix, "state", &letter(7))
        .await
        .unwrap();
    let listed = DeadLetters::list(&mut redis, prefix, "ingest", 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, first);
    assert_eq!(listed[0].letter, letter(0));
    assert_eq!(listed[1].letter, letter(1));
    // `count` bounds the answer, oldest first.
    let one = DeadLetters::list(&mut redis, prefix, "ingest", 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, first);
    // Streams are per group, under the key prefix.
    let len: usize = redis::cmd("XLEN")
        .arg(dead_letters_key(prefix, "state"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(len, 1);
    assert!(
        DeadLetters::delete(&mut redis, prefix, "ingest", &first)
            .await
            .unwrap()
    );
    assert!(
        !DeadLetters::delete(&mut redis, prefix, "ingest", &first)
            .await
            .unwrap()
    );
    let left = DeadLetters::list(&mut redis, prefix, "ingest", 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].letter, letter(1));
}
