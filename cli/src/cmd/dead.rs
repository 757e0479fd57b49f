//! `ddiscord dead list|replay`: the dead letters kept in Redis
//! ([`ddiscord::coord::DeadLetters`]): messages a consumer group gave up on (nacked or
//! redelivered past its limit, not an envelope) and dispatches the broker refused to ingest.

use clap::{Args, Subcommand};
use ddiscord::Topic;
use ddiscord::coord::DeadLetters;
use ddiscord::mesh::{Delivery, Mesh};

use super::error::CliError;
use super::mesh_args::MeshArgs;
use super::redis_args::RedisArgs;

/// Show or re-publish dead letters.
#[derive(Debug, Args)]
pub struct DeadArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DeadAction,
}

/// `ddiscord dead` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeadAction {
    /// Print a group's dead letters, oldest first: id, shard, reason, topic, size.
    List(DeadListArgs),
    /// Re-publish dead letters on their original topic (guaranteed delivery) and remove them.
    /// Every subscriber and group of that topic receives them again; the state worker skips a
    /// dispatch whose session has moved past its sequence (the cache heals with the next
    /// session), so replay serves work queues and watchers, not the cache.
    Replay(DeadReplayArgs),
}

/// Where the dead letters are.
#[derive(Debug, Args)]
pub struct DeadStore {
    /// The group whose dead letters to read: a consumer group's name (`state`, a work
    /// queue's), or `ingest` for dispatches the broker refused.
    #[arg(long, default_value = "state")]
    pub group: String,
    /// Redis holding the dead letters.
    #[command(flatten)]
    pub redis: RedisArgs,
}

/// `ddiscord dead list`.
#[derive(Debug, Args)]
pub struct DeadListArgs {
    #[command(flatten)]
    pub store: DeadStore,
    /// Most entries printed.
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// Print each entry as one JSON object (with the payload as text) instead of a line.
    #[arg(long)]
    pub json: bool,
}

/// `ddiscord dead replay`.
#[derive(Debug, Args)]
pub struct DeadReplayArgs {
    #[command(flatten)]
    pub store: DeadStore,
    /// Stream ids of the entries to replay (as `list` prints them); none replays every entry.
    pub ids: Vec<String>,
    #[command(flatten)]
    pub mesh: MeshArgs,
}

/// Runs `ddiscord dead`.
///
/// # Errors
/// [`CliErrorKind::Redis`](crate::cmd::error::CliErrorKind::Redis) when Redis cannot be reached, [`CliErrorKind::Coord`](crate::cmd::error::CliErrorKind::Coord) when it fails,
/// [`CliErrorKind::Mesh`](crate::cmd::error::CliErrorKind::Mesh) or [`CliErrorKind::Topic`](crate::cmd::error::CliErrorKind::Topic) when a replay cannot be published.
pub async fn run(args: DeadArgs) -> Result<(), CliError> {
    match args.action {
        DeadAction::List(a) => list(a).await,
        DeadAction::Replay(a) => replay(a).await,
    }
}

async fn list(args: DeadListArgs) -> Result<(), CliError> {
    let mut conn = args.store.redis.connect().await?;
    let entries = DeadLetters::list(
        &mut conn,
        &args.store.redis.key_prefix,
        &args.store.group,
        args.count,
    )
    .await?;
    let mut out = String::new();
    for e in &entries {
        let l = &e.letter;
        if args.json {
            let line = serde_json::json!({
                "id": e.id,
                "shard": l.shard,
                "reason": l.reason,
                "topic": l.topic,
                "at_ms": l.at_ms,
                "payload": String::from_utf8_lossy(&l.payload),
            });
            out.push_str(&line.to_string());
        } else {
            out.push_str(&format!(
                "{} shard={} reason={} {} {}B",
                e.id,
                l.shard,
                l.reason,
                l.topic,
                l.payload.len()
            ));
        }
        out.push('\n');
    }
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes()).map_err(CliError::stdout)?;
    eprintln!(
        "{} dead letters of group {}",
        entries.len(),
        args.store.group
    );
    Ok(())
}

async fn replay(args: DeadReplayArgs) -> Result<(), CliError> {
    let mut conn = args.store.redis.connect().await?;
    let entries = DeadLetters::list(
        &mut conn,
        &args.store.redis.key_prefix,
        &args.store.group,
        ddiscord::coord::DEAD_LETTER_MAXLEN * 2,
    )
    .await?;
    let chosen: Vec<_> = entries
        .into_iter()
        .filter(|e| args.ids.is_empty() || args.ids.contains(&e.id))
        .collect();
    let mesh = Mesh::connect(args.mesh.mesh_config()?).await?;
    let mut replayed = 0;
    for e in &chosen {
        let topic = Topic::new(e.letter.topic.clone())?;
        mesh.publish(&topic, e.letter.payload.clone(), Delivery::Guaranteed)
            .await?;
        DeadLetters::delete(
            &mut conn,
            &args.store.redis.key_prefix,
            &args.store.group,
            &e.id,
        )
        .await?;
        replayed += 1;
        println!("{} replayed on {}", e.id, e.letter.topic);
    }
    mesh.close().await;
    eprintln!(
        "{replayed} dead letters of group {} replayed",
        args.store.group
    );
    Ok(())
}
