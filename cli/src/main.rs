//! `ddiscord`: one binary, one subcommand per component.

mod cmd;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// DDiscord runs a large Discord bot as a distributed system: gateway shards publish every
/// dispatch to an event mesh, a state worker projects them into Redis, and scripts in any
/// language subscribe to topic wildcards and read the cache.
#[derive(Debug, Parser)]
#[command(name = "ddiscord", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every event matching a topic pattern, one line each.
    Tail(cmd::tail::TailArgs),
    /// Publish a file's bytes on a topic.
    Publish(cmd::publish::PublishArgs),
    /// Show and re-publish dead letters: messages a consumer group gave up on, dispatches the
    /// broker refused.
    Dead(cmd::dead::DeadArgs),
    /// Apply captured envelopes (`ddiscord tail --json`) to the Redis cache with the state
    /// worker's projection.
    Project(cmd::project::ProjectArgs),
    /// Run the Discord gateway simulator: develop and load-test without a bot token.
    Sim(ddiscord_sim::SimArgs),
    /// Run the whole pipeline on this machine: simulator (or Discord), ingest, an embedded
    /// mesh, the state worker and Redis, with a live summary.
    Up(Box<up::UpArgs>),
    /// Run gateway shards: claim shards by lease, publish every dispatch to the mesh.
    Ingest(ddiscord_ingest::IngestArgs),
    /// Run the state worker: project dispatches into Redis, republish on `<root>-state/…`.
    StateWorker(ddiscord_workers::StateWorkerArgs),
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("DDISCORD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,rumqttc=warn,rumqttd=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Tail(args) => cmd::tail::run(args).await,
        Command::Publish(args) => cmd::publish::run(args).await,
        Command::Dead(args) => cmd::dead::run(args).await,
        Command::Project(args) => cmd::project::run(args).await,
        Command::Sim(args) => ddiscord_sim::run(args).await.map_err(Into::into),
        Command::Up(args) => up::run(*args).await,
        Command::Ingest(args) => ddiscord_ingest::run(args).await.map_err(Into::into),
        Command::StateWorker(args) => ddiscord_workers::run(args).await.map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ddiscord: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
