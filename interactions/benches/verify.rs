//! Interactions verified per second per core.
//!
//! - `Verifier::verify` (timestamp window, hex decoding, Ed25519 over timestamp + body) on a
//!   1.1 KB slash-command interaction, on one thread, beside the bare ed25519-dalek
//!   `VerifyingKey::verify` of the same message (the baseline, as a ratio);
//! - PINGs answered over HTTP by the endpoint (`POST /interactions`, one request per new
//!   connection, the simulator's signing client in the same single-threaded runtime), so the
//!   figure includes the client's signing and HTTP work too.
//!
//! Run with `cargo bench -p ddiscord-interactions --bench verify` (`scripts/bench interactions`);
//! `VERIFY_WINDOW_MS` sets each measuring window (default 2000 ms).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ddiscord_interactions::{Endpoint, InteractionsConfig, Verifier};
use ddiscord_sim::interactions::{deliver, public_key_hex, sign, signing_key};
use ddiscord_testkit::Mosquitto;
use ed25519_dalek::{Signature, Verifier as _};

fn window() -> Duration {
    Duration::from_millis(
        std::env::var("VERIFY_WINDOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
    )
}

/// Runs `f` for the window; calls per second.
fn rate(mut f: impl FnMut()) -> f64 {
    let window = window();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn interaction() -> Vec<u8> {
    let member = serde_json::json!({
        "user": {"id": "80351110224678912", "username": "nelly", "global_name": "Nelly", "avatar": "8342729096ea3675442027381ff50dfe", "discriminator": "0", "public_flags": 131328},
        "roles": ["41771983423143936", "41771983423143937"], "joined_at": "2015-04-26T06:26:56.936000+00:00",
        "deaf": false, "mute": false, "flags": 0, "permissions": "2248473465835073", "nick": null, "avatar": null
    });
    serde_json::to_vec(&serde_json::json!({
        "id": "1234567890123456789", "application_id": "775799577604522054", "type": 2,
        "token": "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpyWnR1dGJvZ3JvbGFzdGFzZGZhc2RmYXNkZmFzZGZhc2RmYXNkZg",
        "version": 1, "guild_id": "290926798626357999", "channel_id": "645027906669510667",
        "guild_locale": "en-US", "locale": "en-US", "app_permissions": "2248473465835073",
        "member": member, "entitlements": [], "authorizing_integration_owners": {"0": "290926798626357999"},
        "context": 0, "attachment_size_limit": 10485760,
        "data": {"id": "771825006014889984", "name": "blep", "type": 1, "guild_id": "290926798626357999",
                 "options": [{"type": 3, "name": "animal", "value": "animal_dog"}, {"type": 5, "name": "only_smol", "value": false}]}
    }))
    .unwrap()
}

fn main() {
    let key = signing_key(1);
    let body = interaction();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts = now.to_string();
    let sig = sign(&key, &ts, &body);
    let verifier = Verifier::new(&public_key_hex(1), Duration::from_secs(300)).unwrap();
    assert!(
        verifier
            .verify(Some(sig.as_bytes()), Some(ts.as_bytes()), &body, now)
            .is_ok()
    );

    let ours = rate(|| {
        let r = verifier.verify(Some(sig.as_bytes()), Some(ts.as_bytes()), &body, now);
        assert!(r.is_ok());
    });
    let mut message = ts.as_bytes().to_vec();
    message.extend_from_slice(&body);
    let mut raw = [0u8; 64];
    hex::decode_to_slice(&sig, &mut raw).unwrap();
    let signature = Signature::from_bytes(&raw);
    let public = key.verifying_key();
    let bare = rate(|| assert!(public.verify(&message, &signature).is_ok()));
    println!(
        "interactions verified per second per core ({} B body): {ours:.0}/s; bare ed25519-dalek verify {bare:.0}/s; ratio {:.2}",
        body.len(),
        ours / bare
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let broker = Mosquitto::start().unwrap();
        let endpoint = Endpoint::start(InteractionsConfig::new(public_key_hex(1), broker.url()))
            .await
            .unwrap();
        let url = format!("http://{}/interactions", endpoint.local_addr());
        let ping = Bytes::from_static(br#"{"id":"1","application_id":"2","type":1,"token":"t","version":1}"#);
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < window() {
            let at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let a = deliver(&key, &url, ping.clone(), at).await.unwrap();
            assert_eq!(a.status, 200);
            n += 1;
        }
        let http = n as f64 / start.elapsed().as_secs_f64();
        println!(
            "PINGs answered over HTTP on one thread (client signing and connecting included): {http:.0}/s"
        );
        endpoint.shutdown().await.unwrap();
    });
}
