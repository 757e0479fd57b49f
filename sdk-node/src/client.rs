//! `connect()` and the `Client`: subscriptions, and everything else a script does.

use std::time::Duration;

use ddiscord::{TopicPattern, Topics};
use futures::StreamExt as _;
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::config::{ConnectOptions, Resolved};
use crate::error::{ErrorCode, NodeError, Result};
use crate::mesh::{Mesh, MeshConfig};
use crate::subscription::{Incoming, Subscription};

/// A connection to the event mesh (and, for cache reads, Redis).
///
/// Closing it (or letting it be garbage-collected) ends its subscriptions and releases its
/// connections.
#[napi]
pub struct Client {
    mesh: Mesh,
    topics: Topics,
    config: Resolved,
    closed: CancellationToken,
}

/// Connects to the mesh named by `options.meshUrl` (or `DDISCORD_MESH_URL`).
///
/// Errors: `DDISCORD_INVALID_CONFIG` for a bad URL or root, `DDISCORD_CONNECTION` when the
/// broker does not answer within `connectTimeoutMs`.
#[napi]
pub async fn connect(options: Option<ConnectOptions>) -> napi::Result<Client> {
    Ok(Client::connect(options.unwrap_or_default()).await?)
}

impl Client {
    async fn connect(options: ConnectOptions) -> Result<Self> {
        let config = options.resolve()?;
        let topics = Topics::new(&config.topic_root).map_err(|e| {
            NodeError::new(
                ErrorCode::InvalidConfig,
                format!(
                    "topic root: {e}; set DDISCORD_TOPIC_ROOT to a single level such as `discord`"
                ),
            )
        })?;
        let mut mesh_config = MeshConfig::new(config.mesh_url.clone());
        mesh_config.client_id.clone_from(&config.client_id);
        let timeout = Duration::from_millis(u64::from(config.connect_timeout_ms));
        let mesh = tokio::time::timeout(timeout, Mesh::connect(mesh_config))
            .await
            .map_err(|_| {
                NodeError::new(
                    ErrorCode::Connection,
                    format!(
                        "the event mesh at {} did not answer within {} ms; is the broker running?",
                        config.mesh_url, config.connect_timeout_ms
                    ),
                )
            })?
            .map_err(|e| {
                NodeError::with_source(
                    ErrorCode::Connection,
                    format!("cannot connect to the event mesh at {}", config.mesh_url),
                    e,
                )
            })?;
        Ok(Self {
            mesh,
            topics,
            config,
            closed: CancellationToken::new(),
        })
    }

    pub(crate) fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    pub(crate) fn topic_set(&self) -> &Topics {
        &self.topics
    }

    pub(crate) fn shard_count(&self) -> u32 {
        self.config.shards
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.is_cancelled() {
            return Err(NodeError::closed("client"));
        }
        Ok(())
    }

    async fn subscribe_pattern(&self, pattern: TopicPattern) -> Result<Subscription> {
        self.check_open()?;
        let source = pattern.as_str().to_owned();
        let stream = self.mesh.subscribe(&pattern).await.map_err(|e| {
            NodeError::with_source(
                ErrorCode::Connection,
                format!("cannot subscribe to `{source}`"),
                e,
            )
        })?;
        let stream = stream
            .map(|m| Incoming {
                topic: m.topic,
                payload: m.payload,
            })
            .boxed();
        Ok(Subscription::new(source, stream, self.closed.child_token()))
    }

    /// Parses a pattern for `<root>-state/…`, given on either tree.
    fn state_pattern(&self, pattern: String) -> Result<TopicPattern> {
        let root = self.topics.root();
        let state_root = format!("{root}-state");
        let on_state = match pattern.strip_prefix(&format!("{root}/")) {
            Some(rest) => format!("{state_root}/{rest}"),
            None => pattern,
        };
        self.pattern(&on_state, &state_root)
    }

    /// Parses a pattern given for the tree `tree_root` (e.g. `discord` or `discord-state`).
    fn pattern(&self, pattern: &str, tree_root: &str) -> Result<TopicPattern> {
        let parsed = TopicPattern::new(pattern).map_err(NodeError::from)?;
        let first = pattern.split('/').next().unwrap_or_default();
        if first != tree_root {
            return Err(NodeError::new(
                ErrorCode::InvalidPattern,
                format!(
                    "invalid pattern `{pattern}`: it must start with `{tree_root}/`, e.g. `{tree_root}/*/*/MESSAGE_CREATE`"
                ),
            ));
        }
        Ok(parsed)
    }
}

#[napi]
impl Client {
    /// Subscribes to dispatches on `<root>/{shard}/{guild}/{EVENT}` matching `pattern` (Solace
    /// syntax: `*` one level or a prefix within a level, `>` one or more trailing levels). Every
    /// subscriber gets every matching event (direct delivery, at most once).
    ///
    /// Errors: `DDISCORD_INVALID_PATTERN`, `DDISCORD_CLOSED`, `DDISCORD_CONNECTION`.
    #[napi]
    pub async fn subscribe(&self, pattern: String) -> napi::Result<Subscription> {
        let parsed = self.pattern(&pattern, self.topics.root())?;
        Ok(self.subscribe_pattern(parsed).await?)
    }

    /// Subscribes to `<root>-state/…`: the same events, published by the state worker after
    /// their effect is in the cache, so a cache read in the handler sees it. `pattern` may name
    /// either tree (`discord/*/*/GUILD_CREATE` or `discord-state/*/*/GUILD_CREATE`).
    ///
    /// Errors: as `subscribe`.
    #[napi]
    pub async fn subscribe_state(&self, pattern: String) -> napi::Result<Subscription> {
        let parsed = self.state_pattern(pattern)?;
        Ok(self.subscribe_pattern(parsed).await?)
    }

    /// Checks a pattern for `subscribe` (`state` false) or `subscribeState` (`state` true)
    /// without subscribing, so the JS entry can throw at once.
    ///
    /// Errors: `DDISCORD_INVALID_PATTERN` naming the level and the rule.
    #[napi]
    pub fn check_pattern(&self, pattern: String, state: bool) -> napi::Result<()> {
        if state {
            self.state_pattern(pattern)?;
        } else {
            self.pattern(&pattern, self.topics.root())?;
        }
        Ok(())
    }

    /// The topic root (`DDISCORD_TOPIC_ROOT`).
    #[napi(getter)]
    pub fn topic_root(&self) -> String {
        self.topics.root().to_owned()
    }

    /// The shard count used to route gateway commands.
    #[napi(getter)]
    pub fn shards(&self) -> u32 {
        self.config.shards
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Ends every subscription and consumer of this client and disconnects. Idempotent.
    #[napi]
    pub async fn close(&self) {
        self.closed.cancel();
        self.mesh.close().await;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Garbage-collected without close(): release the connection in the background.
        if !self.closed.is_cancelled() {
            self.closed.cancel();
            let mesh = self.mesh.clone();
            drop(napi::bindgen_prelude::spawn(
                async move { mesh.close().await },
            ));
        }
    }
}
