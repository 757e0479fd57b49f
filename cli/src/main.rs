//! `ddiscord`: one binary, one subcommand per component.

mod cmd;
mod dev;
mod logging;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// DDiscord runs a large Discord bot as a distributed system: gateway shards publish every
/// dispatch to an event mesh, a state worker projects them into Redis, and scripts in any
/// language subscribe to topic wildcards and read the cache.
#[derive(Debug, Parser)]
#[command(
    name = "ddiscord",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("DDISCORD_GIT_COMMIT"), ")")
)]
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
    /// Serve Discord's HTTP interactions endpoint: verify each signed POST, publish it as
    /// INTERACTION_CREATE, answer with a script's reply or a deferral within 3 s.
    Interactions(ddiscord_interactions::InteractionsArgs),
    /// Tools for developing and testing DDiscord itself.
    #[command(hide = true)]
    Dev(dev::DevArgs),
}

/// Exit status after a second SIGINT or SIGTERM cut a graceful stop short (128 + SIGINT).
const EXIT_SECOND_SIGNAL: u8 = 130;

/// For the long-running commands, which stop gracefully on the first SIGINT or SIGTERM: a
/// second one ends the process at once (after killing the private Redis of `ddiscord up`).
fn exit_on_second_signal() -> Result<(), cmd::error::CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let setup = |source| cmd::error::CliError::setup("the signal handlers", source);
    let mut int = signal(SignalKind::interrupt()).map_err(setup)?;
    let mut term = signal(SignalKind::terminate()).map_err(setup)?;
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen >= 2 {
                up::kill_private_redis();
                eprintln!("ddiscord: second signal; exiting without finishing the graceful stop");
                std::process::exit(i32::from(EXIT_SECOND_SIGNAL));
            }
        }
    });
    Ok(())
}

fn report(err: &cmd::error::CliError) -> ExitCode {
    eprintln!("ddiscord: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
    ExitCode::FAILURE
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match &cli.command {
        Command::Up(args) => up::log_target(args),
        _ => logging::LogTarget::Stderr,
    };
    if let Err(err) = logging::init(&log) {
        return report(&err);
    }
    if matches!(
        cli.command,
        Command::Up(_)
            | Command::Ingest(_)
            | Command::StateWorker(_)
            | Command::Sim(_)
            | Command::Interactions(_)
    ) && let Err(err) = exit_on_second_signal()
    {
        return report(&err);
    }
    let result = match cli.command {
        Command::Dev(args) => return dev::run(args).await,
        Command::Tail(args) => cmd::tail::run(args).await,
        Command::Publish(args) => cmd::publish::run(args).await,
        Command::Dead(args) => cmd::dead::run(args).await,
        Command::Project(args) => cmd::project::run(args).await,
        Command::Sim(args) => ddiscord_sim::run(args).await.map_err(Into::into),
        Command::Up(args) => up::run(*args, log.file()).await,
        Command::Ingest(args) => ddiscord_ingest::run(args).await.map_err(Into::into),
        Command::StateWorker(args) => ddiscord_workers::run(args).await.map_err(Into::into),
        Command::Interactions(args) => ddiscord_interactions::run(args).await.map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}
