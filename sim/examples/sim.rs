//! Runs the simulator the way `ddiscord sim` does: `cargo run -p ddiscord-sim --example sim -- --help`.

use clap::Parser;

/// DDiscord gateway simulator.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: ddiscord_sim::SimArgs,
}

#[tokio::main]
async fn main() -> Result<(), ddiscord_sim::SimError> {
    ddiscord_sim::run(Cli::parse().args).await
}
