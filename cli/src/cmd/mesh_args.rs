//! Options shared by the subcommands that talk to the event mesh.

use clap::Args;
use ddiscord::mesh::{MeshConfig, MeshError};

/// Where the event mesh is.
#[derive(Debug, Clone, Args)]
pub struct MeshArgs {
    /// Event mesh URL: `mqtt://host:1883` (MQTT 3.1.1), `mqtt5://host:1883` (MQTT 5),
    /// `mqtts://` / `mqtt5s://` over TLS (port 8883), optionally `user:password@host`;
    /// `embedded://127.0.0.1:1883` (an in-process broker, started if none listens there).
    /// Credentials and TLS files also come from DDISCORD_MESH_USERNAME,
    /// DDISCORD_MESH_PASSWORD(_FILE), DDISCORD_MESH_CA_FILE, DDISCORD_MESH_CLIENT_CERT_FILE and
    /// DDISCORD_MESH_CLIENT_KEY_FILE.
    #[arg(
        long,
        env = "DDISCORD_MESH_URL",
        hide_env_values = true,
        default_value = ddiscord::model_defaults::MESH_URL
    )]
    pub mesh_url: String,
    /// Topic root, so several bots can share one mesh (`<root>/…`, `<root>-state/…`).
    #[arg(long, env = "DDISCORD_TOPIC_ROOT", default_value = "discord")]
    pub topic_root: String,
}

impl MeshArgs {
    /// The mesh configuration for these options, with the credentials and TLS files of the
    /// environment.
    ///
    /// # Errors
    /// [`MeshError`] when the password file cannot be read.
    pub fn mesh_config(&self) -> Result<MeshConfig, MeshError> {
        MeshConfig::new(self.mesh_url.clone()).with_security_from_env()
    }
}
