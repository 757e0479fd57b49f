//! `ddiscord tail <pattern>`: print every matching event.

use std::io::Write as _;

use clap::Args;
use ddiscord::mesh::{Mesh, Message};
use ddiscord::{Envelope, TopicPattern};
use futures::StreamExt as _;

use super::error::CliError;
use super::mesh_args::MeshArgs;

/// Print every event whose topic matches a pattern (Solace syntax: `*` one level or a prefix
/// within a level, `>` one or more trailing levels), one line each.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Subscription pattern, e.g. `discord/*/*/MESSAGE_*` or `discord/0/>`.
    pub pattern: String,
    /// Print the whole envelope (JSON) instead of a one-line summary.
    #[arg(long, env = "DDISCORD_TAIL_JSON")]
    pub json: bool,
    /// Stop after this many events (0: never).
    #[arg(long, short = 'n', env = "DDISCORD_TAIL_COUNT", default_value_t = 0)]
    pub count: u64,
    #[command(flatten)]
    pub mesh: MeshArgs,
}

/// One line for an event: topic, shard, sequence, guild and size.
pub fn summary(message: &Message) -> String {
    match Envelope::parse(message.payload.clone()) {
        Ok(env) => format!(
            "{} shard={} s={} guild={} {}B",
            message.topic,
            env.shard(),
            env.sequence().map_or_else(|| "-".into(), |s| s.to_string()),
            env.guild_id()
                .ok()
                .flatten()
                .map_or_else(|| "-".into(), |g| g.to_string()),
            message.payload.len()
        ),
        // Not an envelope (a command, a lifecycle event): show its size only.
        Err(_) => format!("{} {}B", message.topic, message.payload.len()),
    }
}

/// Runs `ddiscord tail`.
///
/// # Errors
/// [`CliError`] for an invalid pattern, an unreachable mesh, or a closed standard output.
pub async fn run(args: TailArgs) -> Result<(), CliError> {
    let pattern = TopicPattern::new(args.pattern)?;
    let mesh = Mesh::connect(args.mesh.mesh_config()?).await?;
    let mut sub = mesh.subscribe(&pattern).await?;
    eprintln!("tailing {pattern} (Ctrl-C to stop)");
    let mut seen = 0u64;
    let mut out = std::io::stdout().lock();
    loop {
        let message = tokio::select! {
            m = sub.next() => match m { Some(m) => m, None => break },
            _ = tokio::signal::ctrl_c() => break,
        };
        if args.json {
            out.write_all(&message.payload).map_err(CliError::stdout)?;
            out.write_all(b"\n").map_err(CliError::stdout)?;
        } else {
            writeln!(out, "{}", summary(&message)).map_err(CliError::stdout)?;
        }
        out.flush().map_err(CliError::stdout)?;
        seen += 1;
        if args.count != 0 && seen >= args.count {
            break;
        }
    }
    mesh.close().await;
    Ok(())
}
