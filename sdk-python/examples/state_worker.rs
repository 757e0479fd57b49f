//! Test helper for the Python tests: the state worker of `ddiscord-workers` on the mesh (as
//! `ddiscord state-worker` runs it), started from the tests without the CLI.
//!
//! `state_worker <mesh-url> <redis-url> <shards>`; prints `ready` once it joined its consumer
//! group, and stops when stdin closes.

use ddiscord_workers::{StateWorker, StateWorkerConfig};
use tokio::io::AsyncReadExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: state_worker <mesh-url> <redis-url> <shards>";
    let mesh_url = args.next().ok_or(usage)?;
    let redis_url = args.next().ok_or(usage)?;
    let shards: u32 = args.next().ok_or(usage)?.parse()?;
    let mut config = StateWorkerConfig::new(redis_url, mesh_url);
    config.shards = shards;
    let worker = StateWorker::start(config).await?;
    println!("ready");
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    worker.shutdown().await?;
    Ok(())
}
