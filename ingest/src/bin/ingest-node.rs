//! A standalone ingest node (`ddiscord ingest` without the rest of the CLI), used by the
//! crash and pause tests (`kill -9`, SIGSTOP) and for local development. Configured like
//! `ddiscord ingest`: every flag is also an environment variable (`--help`).

use clap::Parser;

#[derive(Parser)]
#[command(name = "ingest-node", about = "Run one DDiscord ingest node")]
struct Cli {
    #[command(flatten)]
    args: ddiscord_ingest::IngestArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let cli = Cli::parse();
    match ddiscord_ingest::run(cli.args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, source = ?std::error::Error::source(&e), "ingest node failed");
            std::process::ExitCode::FAILURE
        }
    }
}
