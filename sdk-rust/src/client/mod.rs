//! The script-facing client: subscriptions, work queues, cache reads and gateway commands over
//! one mesh connection and one Redis connection. The Python and Node SDKs wrap this type.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ddiscord::client::ClientError> {
//! use futures::StreamExt as _;
//! let client = ddiscord::Client::from_env().await?;
//! let mut events = client.subscribe("discord/*/*/MESSAGE_*").await?;
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{} on shard {}: {}", event.name(), event.shard(), event.json()?["content"]);
//! }
//! # Ok(()) }
//! ```

mod command;
mod config;
mod error;
mod event;
mod interaction;
mod queue;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;

pub use command::{MemberChunks, MemberRequest, VoiceStateRequest};
pub use config::{ClientConfig, DEFAULT_KEY_PREFIX, DEFAULT_MESH_URL, DEFAULT_REDIS_URL};
pub use error::{ClientError, ClientErrorKind, ERROR_KINDS, ErrorKind, ErrorKindInfo};
pub use event::Event;
pub use queue::{Job, QueueOptions, WorkQueue};
pub use stream::Subscription;

use crate::cache::{CacheQuery, CacheReader, Keys};
use crate::contract::Command;
use crate::coord::{RedisTarget, Topology};
use crate::group::{ConsumerGroup, GroupConfig};
use crate::mesh::{Delivery, Mesh, MeshConfig};
use crate::topic::{Level, TopicPattern, Topics, Tree, shard_for_guild};

struct Inner {
    config: ClientConfig,
    topics: Topics,
    mesh: Mesh,
    redis: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    rest: tokio::sync::OnceCell<crate::rest::Rest>,
    /// The shard count in force ([`Client::shards`]).
    shards: AtomicU32,
}

/// A connection to a DDiscord deployment: the event mesh (connected at once) and the Redis
/// cache (connected on first use). Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects with the configuration from the environment ([`ClientConfig::from_env`]).
    ///
    /// # Errors
    /// As [`ClientConfig::from_env`] and [`Self::connect`].
    pub async fn from_env() -> Result<Self, ClientError> {
        Self::connect(ClientConfig::from_env()?).await
    }

    /// Connects to the event mesh, waiting at most `config.connect_timeout` for the broker.
    ///
    /// # Errors
    /// [`ClientErrorKind::Config`] for an invalid topic root or shard count,
    /// [`ClientErrorKind::Mesh`] for an invalid mesh URL, [`ClientErrorKind::Timeout`] when the
    /// broker does not accept the connection in time.
    pub async fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        let topics = Topics::new(&config.topic_root).map_err(|e| {
            ClientError::with_source(
                ClientErrorKind::Config {
                    message: format!(
                        "DDISCORD_TOPIC_ROOT {:?} is not one level",
                        config.topic_root
                    ),
                },
                e,
            )
        })?;
        if config.shards == Some(0) {
            return Err(ClientError::new(ClientErrorKind::Config {
                message: "the shard count (DDISCORD_SHARDS) must be at least 1".into(),
            }));
        }
        let mut mesh_config = MeshConfig::new(config.mesh_url.clone())
            .with_security_from_env()
            .map_err(|e| {
                ClientError::with_source(
                    ClientErrorKind::Mesh {
                        action: "reading the mesh credentials and TLS files".into(),
                    },
                    e,
                )
            })?;
        mesh_config.subscription_capacity = config.subscription_capacity;
        let mesh_url = config::redact_url(&config.mesh_url);
        let timeout = config.connect_timeout;
        let mesh = tokio::time::timeout(timeout, Mesh::connect(mesh_config))
            .await
            .map_err(|_| {
                ClientError::new(ClientErrorKind::Timeout {
                    what: format!(
                        "the event mesh at {mesh_url} to accept the connection ({} ms); is the broker running?",
                        timeout.as_millis()
                    ),
                })
            })?
            .map_err(|e| {
                ClientError::with_source(
                    ClientErrorKind::Mesh {
                        action: format!("connecting to {mesh_url}"),
                    },
                    e,
                )
            })?;
        tracing::info!(mesh = %mesh_url, "ddiscord client connected");
        let client = Self {
            inner: Arc::new(Inner {
                shards: AtomicU32::new(config.shards.unwrap_or(1)),
                config,
                topics,
                mesh,
                redis: tokio::sync::OnceCell::new(),
                rest: tokio::sync::OnceCell::new(),
            }),
        };
        if let Some(recorded) = client.recorded_shards().await {
            if let Some(explicit) = client.inner.config.shards
                && explicit != recorded
            {
                return Err(ClientError::new(ClientErrorKind::Config {
                    message: format!(
                        "DDISCORD_SHARDS is {explicit} but ingest recorded {recorded} shards (GET /gateway/bot); unset it or make it match"
                    ),
                }));
            }
            client.inner.shards.store(recorded, Ordering::Relaxed);
        }
        if client.inner.config.shards.is_none() {
            tokio::spawn(follow_topology(Arc::downgrade(&client.inner)));
        }
        Ok(client)
    }

    /// The shard count ingest recorded in Redis, if Redis answers within 1 s and one is
    /// recorded.
    async fn recorded_shards(&self) -> Option<u32> {
        let read = async {
            let mut redis = self.redis().await.ok()?;
            Topology::read(&mut redis, &self.inner.config.key_prefix)
                .await
                .ok()
                .flatten()
        };
        tokio::time::timeout(TOPOLOGY_READ_TIMEOUT, read)
            .await
            .ok()
            .flatten()
            .map(|t| t.shards)
    }

    /// The bot's shard count: `DDISCORD_SHARDS` when set, else the count ingest recorded in
    /// Redis (followed while the client runs), else 1.
    pub fn shards(&self) -> u32 {
        self.inner.shards.load(Ordering::Relaxed)
    }

    /// The configuration the client was connected with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The topic trees under the configured root.
    pub fn topics(&self) -> &Topics {
        &self.inner.topics
    }

    /// Every event on the dispatch tree matching `pattern`, e.g. `discord/*/*/MESSAGE_CREATE`,
    /// `discord/3/>`, `discord/*/81384788765712384/GUILD_*` (Solace syntax: `*` one level or a
    /// level prefix, `>` the remaining levels). Every subscriber gets every matching event.
    ///
    /// # Errors
    /// [`ClientErrorKind::InvalidPattern`] when the pattern is invalid or does not start with the
    /// topic root (`discord/`); [`ClientErrorKind::Mesh`] when the broker refuses it.
    pub async fn subscribe(&self, pattern: &str) -> Result<Subscription, ClientError> {
        let pattern = self.check_pattern(Tree::Dispatch, pattern)?;
        self.subscribe_pattern(pattern).await
    }

    /// As [`Self::subscribe`], on the state tree (`discord-state/…`): each event arrives after
    /// the state worker applied it to the cache, so cache reads see its effect. Give the pattern
    /// on either tree: `discord/*/*/GUILD_MEMBER_ADD` and `discord-state/*/*/GUILD_MEMBER_ADD`
    /// subscribe to the same.
    ///
    /// # Errors
    /// As [`Self::subscribe`].
    pub async fn subscribe_state(&self, pattern: &str) -> Result<Subscription, ClientError> {
        let pattern = self.check_pattern(Tree::State, pattern)?;
        self.subscribe_pattern(pattern).await
    }

    async fn subscribe_pattern(&self, pattern: TopicPattern) -> Result<Subscription, ClientError> {
        let mesh_events = self.inner.mesh.events();
        let sub = self.inner.mesh.subscribe(&pattern).await.map_err(|e| {
            ClientError::with_source(
                ClientErrorKind::Mesh {
                    action: format!("subscribing to {pattern}"),
                },
                e,
            )
        })?;
        Ok(Subscription::new(
            self.inner.topics.clone(),
            pattern.to_string(),
            sub,
            mesh_events,
        ))
    }

    /// Checks a subscription pattern for `tree` without subscribing: parses it (Solace syntax,
    /// topic limits) and puts it on `tree`, refusing patterns of other trees. On the state tree a
    /// pattern may name either tree (`discord/…` is moved to `discord-state/…`); work queues take
    /// dispatch patterns. What [`Self::subscribe`], [`Self::subscribe_state`] and
    /// [`Self::consume`] check, for bindings that report a bad pattern before subscribing.
    ///
    /// # Errors
    /// [`ClientErrorKind::InvalidPattern`] naming the level and the rule, or the tree expected.
    pub fn check_pattern(&self, tree: Tree, pattern: &str) -> Result<TopicPattern, ClientError> {
        let parsed = TopicPattern::new(pattern)?;
        let topics = &self.inner.topics;
        let want = topics.tree_root(tree);
        let dispatch_root = topics.root();
        let first = match parsed.levels().first() {
            Some(Level::Literal(l)) => l.as_str(),
            _ => "",
        };
        if first == want {
            return Ok(parsed);
        }
        if tree == Tree::State && first == dispatch_root {
            let rest = pattern.split_once('/').map_or("", |(_, rest)| rest);
            if rest.is_empty() {
                return Err(self.wrong_tree(pattern, want));
            }
            return Ok(TopicPattern::new(format!("{want}/{rest}"))?);
        }
        Err(self.wrong_tree(pattern, want))
    }

    fn wrong_tree(&self, pattern: &str, want: &str) -> ClientError {
        ClientError::new(ClientErrorKind::InvalidPattern {
            message: format!(
                "invalid pattern `{pattern}`: it must start with `{want}/`, the topic root, followed by {{shard}}/{{guild}}/{{event}} levels or wildcards, e.g. `{want}/*/*/MESSAGE_CREATE` or `{want}/>`"
            ),
        })
    }

    /// The shard that owns `guild_id` among the configured shards,
    /// `(guild_id >> 22) % shards` ([`shard_for_guild`]).
    pub fn shard_for(&self, guild_id: u64) -> u32 {
        shard_for_guild(guild_id, self.shards())
    }

    /// Publishes gateway command `command` (a name from `topics.yaml` `commands`, e.g.
    /// `PRESENCE_UPDATE`) with body `d` for `shard`, with guaranteed delivery.
    ///
    /// # Errors
    /// [`ClientErrorKind::Config`] for an unknown command name or a shard outside the configured
    /// count, [`ClientErrorKind::Mesh`] when the publish fails.
    pub async fn send_command(
        &self,
        shard: u32,
        command: &str,
        d: &serde_json::Value,
    ) -> Result<(), ClientError> {
        if Command::from_name(command).is_none() {
            let known: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
            return Err(ClientError::new(ClientErrorKind::Config {
                message: format!(
                    "unknown gateway command {command:?}; scripts may send {}",
                    known.join(", ")
                ),
            }));
        }
        let shards = self.shards();
        if shard >= shards {
            return Err(ClientError::new(ClientErrorKind::Config {
                message: format!(
                    "shard {shard} does not exist: the bot runs {shards} shard(s) (DDISCORD_SHARDS, or the count ingest recorded)"
                ),
            }));
        }
        let topic = self.inner.topics.command(shard, command)?;
        let body = Bytes::from(serde_json::to_vec(d).unwrap_or_default());
        self.inner
            .mesh
            .publish(&topic, body, Delivery::Guaranteed)
            .await
            .map_err(|e| {
                ClientError::with_source(
                    ClientErrorKind::Mesh {
                        action: format!("publishing {command} on {topic}"),
                    },
                    e,
                )
            })?;
        metrics::counter!("ddiscord_client_commands_sent_total", "command" => command.to_owned())
            .increment(1);
        Ok(())
    }

    /// Sends a VOICE_STATE_UPDATE to the shard that owns the guild.
    ///
    /// # Errors
    /// [`ClientErrorKind::InvalidId`] for a zero id; otherwise as [`Self::send_command`].
    pub async fn update_voice_state(&self, request: &VoiceStateRequest) -> Result<(), ClientError> {
        if request.guild_id == 0 {
            return Err(ClientError::invalid_id("guild_id", 0));
        }
        if request.channel_id == Some(0) {
            return Err(ClientError::invalid_id("channel_id", 0));
        }
        let d = serde_json::to_value(request).unwrap_or_default();
        self.send_command(self.shard_for(request.guild_id), "VOICE_STATE_UPDATE", &d)
            .await
    }

    /// Sends a PRESENCE_UPDATE with body `d` (`{"since", "activities", "status", "afk"}`) to
    /// every shard, as a bot's presence is per shard.
    ///
    /// # Errors
    /// As [`Self::send_command`].
    pub async fn update_presence(&self, d: &serde_json::Value) -> Result<(), ClientError> {
        for shard in 0..self.shards() {
            self.send_command(shard, "PRESENCE_UPDATE", d).await?;
        }
        Ok(())
    }

    /// Sends a REQUEST_GUILD_MEMBERS to the shard that owns the guild and returns the
    /// GUILD_MEMBERS_CHUNK dispatches that answer it (matched by nonce) as a stream. The
    /// subscription is made before the command is sent, so no chunk is missed.
    ///
    /// # Errors
    /// [`ClientErrorKind::InvalidId`] for zero ids, [`ClientErrorKind::Config`] for a request
    /// Discord would refuse (no query and no ids, over 100 ids, nonce over 32 bytes); otherwise
    /// as [`Self::send_command`]. The stream yields [`ClientErrorKind::RateLimited`] when
    /// Discord refuses the request (every member of a guild: once per guild per 30 s).
    pub async fn request_guild_members(
        &self,
        request: &MemberRequest,
    ) -> Result<MemberChunks, ClientError> {
        request.validate()?;
        let nonce = request
            .nonce
            .clone()
            .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
        let shard = self.shard_for(request.guild_id);
        let pattern = self.inner.topics.pattern(
            Tree::Dispatch,
            Some(shard),
            Some(request.guild_id),
            Some("GUILD_MEMBERS_CHUNK"),
        )?;
        let chunks = self.subscribe_pattern(pattern).await?;
        // Discord's refusal comes as a RATE_LIMITED dispatch, which belongs to no guild.
        let pattern =
            self.inner
                .topics
                .pattern(Tree::Dispatch, Some(shard), None, Some("RATE_LIMITED"))?;
        let limited = self.subscribe_pattern(pattern).await?;
        self.send_command(shard, "REQUEST_GUILD_MEMBERS", &request.body(&nonce))
            .await?;
        Ok(MemberChunks::new(
            nonce,
            chunks,
            limited,
            self.inner.config.chunk_timeout,
        ))
    }

    /// The Redis connection of the cache, opened on first use (reconnects by itself). Use it
    /// for reads the typed API does not offer; the key layout is `ddiscord::cache::keys`.
    ///
    /// # Errors
    /// [`ClientErrorKind::Redis`] when the URL is invalid or Redis cannot be reached.
    pub async fn redis(&self) -> Result<redis::aio::ConnectionManager, ClientError> {
        let url = self.inner.config.redacted_redis_url();
        self.inner
            .redis
            .get_or_try_init(|| async {
                let target = RedisTarget::from_env_with_url(self.inner.config.redis_url.as_str())
                    .map_err(|e| {
                    ClientError::redis_setup(format!("reading the Redis settings for {url}"), e)
                })?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(5)))
                    .set_response_timeout(Some(Duration::from_secs(5)))
                    .set_number_of_retries(2);
                target
                    .connect_with(config)
                    .await
                    .map_err(|e| ClientError::redis_setup(format!("connecting to {url}"), e))
            })
            .await
            .cloned()
    }

    /// Discord's HTTP API with the rate limits shared by every process of the bot through
    /// this client's Redis ([`crate::rest`]); made on first use from
    /// [`ClientConfig::rest`].
    ///
    /// # Errors
    /// [`ClientErrorKind::Config`] when no bot token is configured (`DISCORD_TOKEN`) or the
    /// base URL is not `http(s)://`; [`ClientErrorKind::Redis`] as [`Self::redis`].
    pub async fn rest(&self) -> Result<crate::rest::Rest, ClientError> {
        let Some(config) = self.inner.config.rest.as_ref() else {
            return Err(ClientError::new(ClientErrorKind::Config {
                message: "Discord's HTTP API needs the bot token: set DISCORD_TOKEN (and DDISCORD_REST_URL for the simulator)".into(),
            }));
        };
        self.inner
            .rest
            .get_or_try_init(|| async {
                let redis = self.redis().await?;
                crate::rest::Rest::new(config, redis, &self.inner.config.key_prefix).map_err(|e| {
                    ClientError::new(ClientErrorKind::Config {
                        message: e.to_string(),
                    })
                })
            })
            .await
            .cloned()
    }

    /// Joins work queue `group` on the dispatch tree events matching `pattern` (whose shard
    /// level must be `*` or `>`, e.g. `discord/*/*/MESSAGE_CREATE`, `discord/>`): replicas
    /// that join the same group share the events, each handled by one replica at a time,
    /// at-least-once. Partitions are the shards (`DDISCORD_SHARDS`), claimed through Redis
    /// leases; a crashed replica's partitions move to the others after the lease TTL with
    /// nothing lost.
    ///
    /// # Errors
    /// As [`Self::consume_with`].
    pub async fn consume(&self, group: &str, pattern: &str) -> Result<WorkQueue, ClientError> {
        self.consume_with(group, pattern, QueueOptions::default())
            .await
    }

    /// As [`Self::consume`], with retry, dead-letter and lease options.
    ///
    /// # Errors
    /// [`ClientErrorKind::InvalidPattern`] for an invalid pattern, [`ClientErrorKind::Group`]
    /// for an invalid group name or shard level, [`ClientErrorKind::Redis`] when Redis cannot
    /// be reached.
    pub async fn consume_with(
        &self,
        group: &str,
        pattern: &str,
        options: QueueOptions,
    ) -> Result<WorkQueue, ClientError> {
        let pattern = self.check_pattern(Tree::Dispatch, pattern)?;
        let mut config = GroupConfig::new(group, pattern, self.shards());
        config.key_prefix = self.inner.config.key_prefix.clone();
        config.max_deliveries = options.max_deliveries;
        config.retry_delay = options.retry_delay;
        config.lease_ttl = options.lease_ttl;
        let redis = self.redis().await?;
        let source = self.inner.mesh.clone();
        let joined = ConsumerGroup::join(source, redis, config)
            .await
            .map_err(|e| queue::group_error(&format!("joining work queue {group:?}"), e))?;
        Ok(WorkQueue::new(self.inner.topics.clone(), joined))
    }

    /// Typed reads of the cache (guild, channel(s), role(s), member(s), user, presence, voice
    /// state(s), recent messages) in twilight-model types, over the shared Redis connection
    /// under the configured key prefix. `members(guild, &[users])` is one round trip.
    ///
    /// # Errors
    /// [`ClientErrorKind::Redis`] when Redis cannot be reached.
    pub async fn cache(&self) -> Result<CacheReader<redis::aio::ConnectionManager>, ClientError> {
        let conn = self.redis().await?;
        Ok(CacheReader::new(
            conn,
            Keys::new(self.inner.config.key_prefix.clone()),
        ))
    }

    /// Answers a cache read named by `query` as JSON text ([`CacheReader::query_json`]): the one
    /// entry point the Python and Node bindings read the cache through.
    ///
    /// # Errors
    /// [`ClientErrorKind::Redis`] when Redis cannot be reached or fails,
    /// [`ClientErrorKind::CorruptCache`] for a value that is not the documented JSON.
    pub async fn query_cache(&self, query: &CacheQuery) -> Result<String, ClientError> {
        Ok(self.cache().await?.query_json(query).await?)
    }

    /// Disconnects from the mesh; open streams end.
    pub async fn close(&self) {
        self.inner.mesh.close().await;
    }
}

/// How long [`Client::connect`] waits for Redis to tell the recorded shard count.
const TOPOLOGY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// How often a client without `DDISCORD_SHARDS` reads the recorded shard count again.
const TOPOLOGY_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// Follows the shard count ingest records while the client lives.
async fn follow_topology(inner: std::sync::Weak<Inner>) {
    loop {
        tokio::time::sleep(TOPOLOGY_POLL).await;
        let Some(inner) = inner.upgrade() else { return };
        let client = Client { inner };
        if let Some(recorded) = client.recorded_shards().await {
            let before = client.inner.shards.swap(recorded, Ordering::Relaxed);
            if before != recorded {
                tracing::info!(
                    from = before,
                    to = recorded,
                    "the bot's shard count changed; commands route with the new count"
                );
            }
        }
    }
}
