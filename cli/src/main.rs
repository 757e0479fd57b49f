//! `ddiscord`: one binary, one subcommand per component.

mod cmd;

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
    /// Run the Discord gateway simulator: develop and load-test without a bot token.
    Sim(ddiscord_sim::SimArgs),
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
        Command::Sim(args) => ddiscord_sim::run(args).await.map_err(Into::into),
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
