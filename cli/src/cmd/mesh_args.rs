//! Options shared by the subcommands that talk to the event mesh.

use clap::Args;
use ddiscord::mesh::MeshConfig;

/// Where the event mesh is.
#[derive(Debug, Clone, Args)]
pub struct MeshArgs {
    /// Event mesh URL: `mqtt://host:1883` (MQTT 3.1.1), `mqtt5://host:1883` (MQTT 5),
    /// `embedded://127.0.0.1:1883` (an in-process broker, started if none listens there).
    #[arg(
        long,
        env = "DDISCORD_MESH_URL",
        default_value = ddiscord::model_defaults::MESH_URL
    )]
    pub mesh_url: String,
    /// Topic root, so several bots can share one mesh (`<root>/…`, `<root>-state/…`).
    #[arg(long, env = "DDISCORD_TOPIC_ROOT", default_value = "discord")]
    pub topic_root: String,
}

impl MeshArgs {
    /// The mesh configuration for these options.
    pub fn mesh_config(&self) -> MeshConfig {
        MeshConfig::new(self.mesh_url.clone())
    }
}
