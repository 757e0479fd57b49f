//! `ddiscord publish <topic> <file>`: publish a file's bytes on a topic.

use bytes::Bytes;
use clap::Args;
use ddiscord::Topic;
use ddiscord::mesh::{Delivery, Mesh};

use super::error::CliError;
use super::mesh_args::MeshArgs;

/// Publish one message: the bytes of a file (or `-` for standard input) on a topic.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Topic to publish on, e.g. `discord-cmd/0/PRESENCE_UPDATE` (no wildcards).
    pub topic: String,
    /// File whose bytes are the message body, or `-` for standard input.
    pub file: String,
    /// Guaranteed delivery (MQTT QoS 1: returns after the broker acknowledged it) instead of
    /// direct (QoS 0).
    #[arg(long, env = "DDISCORD_PUBLISH_GUARANTEED")]
    pub guaranteed: bool,
    #[command(flatten)]
    pub mesh: MeshArgs,
}

/// Runs `ddiscord publish`.
///
/// # Errors
/// [`CliError`] for an invalid topic, an unreadable file, or a mesh that refuses the message.
pub async fn run(args: PublishArgs) -> Result<(), CliError> {
    let topic = Topic::new(args.topic)?;
    let body = if args.file == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|source| CliError::read("standard input", source))?;
        buf
    } else {
        std::fs::read(&args.file).map_err(|source| CliError::read(args.file.clone(), source))?
    };
    let mesh = Mesh::connect(args.mesh.mesh_config()?).await?;
    let delivery = if args.guaranteed {
        Delivery::Guaranteed
    } else {
        Delivery::Direct
    };
    let bytes = body.len();
    mesh.publish(&topic, Bytes::from(body), delivery).await?;
    mesh.close().await;
    eprintln!("published {bytes} bytes on {topic}");
    Ok(())
}
