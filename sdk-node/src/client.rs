//! `connect()` and the `Client`: the Node face of [`ddiscord::Client`].

use ddiscord::client::ClientError;
use futures::StreamExt as _;
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::cache::Completions;
use crate::config::ConnectOptions;
use crate::error::{NodeError, Result, Settled};
use crate::subscription::Subscription;

/// A connection to the event mesh and (on first cache read) Redis.
///
/// Closing it, or letting it be garbage-collected, ends its subscriptions and releases its
/// connections.
#[napi]
pub struct Client {
    inner: ddiscord::Client,
    /// The runtime the client's connections live on, to close them from a GC finalizer.
    runtime: tokio::runtime::Handle,
    closed: CancellationToken,
    /// Where cache reads send their answers ([`crate::cache`]).
    completions: Completions,
}

/// Connects with the configuration from the `DDISCORD_*` environment variables, overridden by
/// `options`.
///
/// Errors: `DDISCORD_CONFIG` (bad variable, root or shard count), `DDISCORD_MESH` (bad mesh
/// URL), `DDISCORD_TIMEOUT` (the broker did not accept the connection within
/// `connectTimeoutMs`).
#[napi(ts_return_type = "Promise<Client>")]
pub async fn connect(options: Option<ConnectOptions>) -> Settled<Client> {
    Settled(
        async {
            let config = options.unwrap_or_default().resolve()?;
            let inner = ddiscord::Client::connect(config)
                .await
                .map_err(NodeError::from)?;
            Ok(Client {
                inner,
                runtime: tokio::runtime::Handle::current(),
                closed: CancellationToken::new(),
                completions: Completions::default(),
            })
        }
        .await,
    )
}

impl Client {
    /// The core client.
    pub(crate) fn core(&self) -> &ddiscord::Client {
        &self.inner
    }

    /// The cache reads' completion channel.
    pub(crate) fn completions(&self) -> &Completions {
        &self.completions
    }

    /// Runs `task` on the client's runtime, detached.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        drop(self.runtime.spawn(task));
    }

    /// `DDISCORD_CLOSED` once `close()` was called.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.is_cancelled() {
            return Err(NodeError::closed("client"));
        }
        Ok(())
    }

    /// A token cancelled by `close()` of the client.
    pub(crate) fn child_token(&self) -> CancellationToken {
        self.closed.child_token()
    }

    /// A subscription over a core stream, ended by `close()` of either.
    pub(crate) fn wrap<S>(&self, pattern: String, stream: S) -> Subscription
    where
        S: futures::Stream<Item = std::result::Result<ddiscord::Event, ClientError>>
            + Send
            + 'static,
    {
        Subscription::new(
            pattern,
            stream.boxed(),
            self.child_token(),
            self.runtime.clone(),
        )
    }
}

#[napi]
impl Client {
    /// Subscribes to dispatches on `<root>/{shard}/{guild}/{EVENT}` matching `pattern` (Solace
    /// syntax: `*` one level or a prefix within a level, `>` one or more trailing levels). Every
    /// subscriber gets every matching event.
    ///
    /// Errors: `DDISCORD_INVALID_PATTERN`, `DDISCORD_CLOSED`, `DDISCORD_MESH`.
    #[napi(ts_return_type = "Promise<Subscription>")]
    pub async fn subscribe(&self, pattern: String) -> Settled<Subscription> {
        Settled(
            async {
                self.check_open()?;
                let stream = self
                    .inner
                    .subscribe(&pattern)
                    .await
                    .map_err(NodeError::from)?;
                Ok(self.wrap(pattern, stream))
            }
            .await,
        )
    }

    /// As `subscribe`, on `<root>-state/…`: events published after the state worker applied
    /// them, so a cache read in the handler sees their effect. The pattern may name either tree.
    ///
    /// Errors: as `subscribe`.
    #[napi(ts_return_type = "Promise<Subscription>")]
    pub async fn subscribe_state(&self, pattern: String) -> Settled<Subscription> {
        Settled(
            async {
                self.check_open()?;
                let stream = self
                    .inner
                    .subscribe_state(&pattern)
                    .await
                    .map_err(NodeError::from)?;
                Ok(self.wrap(pattern, stream))
            }
            .await,
        )
    }

    /// Checks a pattern for `subscribe` (`state` false) or `subscribeState` (`state` true)
    /// without subscribing, so the JS entry throws before returning the iterator.
    ///
    /// Errors: `DDISCORD_INVALID_PATTERN` naming the level and the rule.
    #[napi]
    pub fn check_pattern(&self, pattern: String, state: bool) -> napi::Result<(), String> {
        let tree = if state {
            ddiscord::topic::Tree::State
        } else {
            ddiscord::topic::Tree::Dispatch
        };
        self.inner
            .check_pattern(tree, &pattern)
            .map_err(NodeError::from)?;
        Ok(())
    }

    /// The topic root (`DDISCORD_TOPIC_ROOT`, default `discord`).
    #[napi(getter)]
    pub fn topic_root(&self) -> String {
        self.inner.topics().root().to_owned()
    }

    /// The cache key prefix (`DDISCORD_KEY_PREFIX`, default `dd:`).
    #[napi(getter)]
    pub fn key_prefix(&self) -> String {
        self.inner.config().key_prefix.clone()
    }

    /// The shard count used to route gateway commands.
    #[napi(getter)]
    pub fn shards(&self) -> u32 {
        self.inner.shards()
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Ends every subscription of this client and disconnects. Idempotent.
    #[napi]
    pub async fn close(&self) {
        self.closed.cancel();
        self.completions.clear();
        self.inner.close().await;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Garbage-collected without close(): release the connections in the background. At
        // process exit the runtime is already shut down; spawning then drops the task instead
        // of panicking, and the process is ending anyway.
        if !self.closed.is_cancelled() {
            self.closed.cancel();
            let inner = self.inner.clone();
            drop(self.runtime.spawn(async move { inner.close().await }));
        }
    }
}
