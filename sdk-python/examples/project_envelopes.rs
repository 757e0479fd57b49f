//! Test helper for the Python tests: applies envelopes (one JSON per stdin line, in order)
//! to Redis with the state worker's projection, as `ddiscord state-worker` would.
//!
//! `project_envelopes <redis-url> [key-prefix]`; prints `applied=<n> other=<n>`.

use std::io::BufRead as _;

use bytes::Bytes;
use ddiscord::Envelope;
use ddiscord::cache::Keys;
use ddiscord_workers::{Outcome, ProjectionConfig, Projector};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: project_envelopes <redis-url> [key-prefix]")?;
    let prefix = args.next().unwrap_or_else(|| "dd:".into());
    let conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let config = ProjectionConfig {
        cache_presences: true,
        message_cache: 50,
    };
    let mut projector = Projector::new(conn, Keys::new(prefix), config);
    let mut envelopes = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if !line.trim().is_empty() {
            envelopes.push(Envelope::parse(Bytes::from(line))?);
        }
    }
    let outcomes = projector.apply_batch(&envelopes).await?;
    let applied = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Applied { .. }))
        .count();
    println!("applied={applied} other={}", outcomes.len() - applied);
    Ok(())
}
