//! Test helper for the Node package: applies envelopes to the Redis cache with the state
//! worker's projection (`ddiscord_workers::Projector`), so `node --test` can check that cache
//! reads equal what the state worker writes without running the whole pipeline.
//!
//! Reads one envelope per line on stdin, applies them in order, and prints one outcome per
//! line (`applied`, `duplicate`, `skipped`, `rejected: …`). Configured like the worker:
//! `DDISCORD_REDIS_URL` (required), `DDISCORD_KEY_PREFIX` (default `dd:`),
//! `DDISCORD_CACHE_PRESENCES` (`true`/`false`), `DDISCORD_MESSAGE_CACHE` (messages per channel).

use std::io::BufRead as _;
use std::process::ExitCode;

use bytes::Bytes;
use ddiscord::Envelope;
use ddiscord::cache::Keys;
use ddiscord_workers::{Outcome, ProjectionConfig, Projector};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("project_envelopes: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DDISCORD_REDIS_URL").map_err(|_| "set DDISCORD_REDIS_URL")?;
    let prefix = std::env::var("DDISCORD_KEY_PREFIX").unwrap_or_else(|_| "dd:".into());
    let config = ProjectionConfig {
        cache_presences: std::env::var("DDISCORD_CACHE_PRESENCES").is_ok_and(|v| v == "true"),
        message_cache: std::env::var("DDISCORD_MESSAGE_CACHE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    let conn = redis::aio::ConnectionManager::new(redis::Client::open(url)?).await?;
    let mut projector = Projector::new(conn, Keys::new(prefix), config);
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let envelope = Envelope::parse(Bytes::from(line))?;
        let outcome = match projector.apply(&envelope).await? {
            Outcome::Applied { .. } => "applied".to_owned(),
            Outcome::Duplicate => "duplicate".to_owned(),
            Outcome::Skipped(_) => "skipped".to_owned(),
            Outcome::Rejected(why) => format!("rejected: {why}"),
        };
        println!("{outcome}");
    }
    Ok(())
}
