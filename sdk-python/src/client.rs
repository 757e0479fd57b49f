//! `NativeClient`: the Python face of [`ddiscord::Client`].

use std::time::Duration;

use ddiscord::client::{ClientConfig, MemberRequest, VoiceStateRequest};
use pyo3::prelude::*;

use crate::errors::{snowflake, to_py};
use crate::stream::NativeStream;

/// Connects a client: the configuration comes from the `DDISCORD_*` environment variables,
/// overridden by the arguments that are not `None`. Resolves to a `NativeClient`.
#[pyfunction]
#[pyo3(signature = (*, mesh_url = None, redis_url = None, key_prefix = None, topic_root = None, shards = None, connect_timeout = None))]
pub(crate) fn connect(
    py: Python<'_>,
    mesh_url: Option<String>,
    redis_url: Option<String>,
    key_prefix: Option<String>,
    topic_root: Option<String>,
    shards: Option<u32>,
    connect_timeout: Option<f64>,
) -> PyResult<Bound<'_, PyAny>> {
    let mut config = ClientConfig::from_env().map_err(to_py)?;
    if let Some(v) = mesh_url {
        config.mesh_url = v;
    }
    if let Some(v) = redis_url {
        config.redis_url = v;
    }
    if let Some(v) = key_prefix {
        config.key_prefix = v;
    }
    if let Some(v) = topic_root {
        config.topic_root = v;
    }
    if let Some(v) = shards {
        config.shards = Some(v);
    }
    if let Some(secs) = connect_timeout {
        config.connect_timeout = Duration::try_from_secs_f64(secs).map_err(|_| {
            to_py(ddiscord::ClientError::new(
                ddiscord::client::ClientErrorKind::Config {
                    message: format!(
                        "connect_timeout must be a non-negative number of seconds, got {secs}"
                    ),
                },
            ))
        })?;
    }
    crate::runtime::future_into_py(py, async move {
        let client = ddiscord::Client::connect(config).await.map_err(to_py)?;
        Ok(NativeClient { inner: client })
    })
}

/// The shard that owns `guild_id` among `shard_count` shards: `(guild_id >> 22) % shard_count`.
#[pyfunction]
pub(crate) fn shard_for_guild(guild_id: &Bound<'_, PyAny>, shard_count: u32) -> PyResult<u32> {
    let guild_id = snowflake("guild_id", guild_id)?;
    Ok(ddiscord::shard_for_guild(guild_id, shard_count))
}

/// Checks a subscription pattern (Solace syntax); raises `PatternError` saying what is wrong.
#[pyfunction]
pub(crate) fn validate_pattern(pattern: &str) -> PyResult<()> {
    ddiscord::TopicPattern::new(pattern)
        .map(drop)
        .map_err(|e| to_py(e.into()))
}

/// A connected client.
#[pyclass(module = "ddiscord._native", frozen)]
pub struct NativeClient {
    inner: ddiscord::Client,
}

impl NativeClient {
    pub(crate) fn client(&self) -> &ddiscord::Client {
        &self.inner
    }
}

#[pymethods]
impl NativeClient {
    /// The configured shard count.
    #[getter]
    fn shards(&self) -> u32 {
        self.inner.shards()
    }

    /// The configured topic root.
    #[getter]
    fn topic_root(&self) -> &str {
        self.inner.topics().root()
    }

    /// The configured Redis key prefix.
    #[getter]
    fn key_prefix(&self) -> &str {
        &self.inner.config().key_prefix
    }

    /// Subscribes to `pattern` on the dispatch tree; resolves to a `NativeStream`.
    fn subscribe<'py>(&self, py: Python<'py>, pattern: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let stream = client.subscribe(&pattern).await.map_err(to_py)?;
            Ok(NativeStream::new(stream))
        })
    }

    /// Subscribes to `pattern` on the state tree; resolves to a `NativeStream`.
    fn subscribe_state<'py>(
        &self,
        py: Python<'py>,
        pattern: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let stream = client.subscribe_state(&pattern).await.map_err(to_py)?;
            Ok(NativeStream::new(stream))
        })
    }

    /// Checks a pattern for `subscribe` (`state` false; also work queues) or `subscribe_state`
    /// (`state` true) without subscribing; raises `PatternError` naming the level and the rule.
    fn check_pattern(&self, pattern: &str, state: bool) -> PyResult<()> {
        let tree = if state {
            ddiscord::topic::Tree::State
        } else {
            ddiscord::topic::Tree::Dispatch
        };
        self.inner
            .check_pattern(tree, pattern)
            .map(drop)
            .map_err(to_py)
    }

    /// The shard that owns `guild_id`.
    fn shard_for(&self, guild_id: &Bound<'_, PyAny>) -> PyResult<u32> {
        Ok(self.inner.shard_for(snowflake("guild_id", guild_id)?))
    }

    /// Publishes gateway command `command` with the JSON body `body` for `shard`.
    fn send_command<'py>(
        &self,
        py: Python<'py>,
        shard: u32,
        command: String,
        body: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let d: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
            to_py(ddiscord::ClientError::new(
                ddiscord::client::ClientErrorKind::Config {
                    message: format!("the command body is not JSON: {e}"),
                },
            ))
        })?;
        let client = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            client
                .send_command(shard, &command, &d)
                .await
                .map_err(to_py)
        })
    }

    /// Sends a VOICE_STATE_UPDATE to the shard that owns the guild.
    #[pyo3(signature = (guild_id, channel_id, self_mute = false, self_deaf = false))]
    fn update_voice_state<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
        channel_id: Option<&Bound<'py, PyAny>>,
        self_mute: bool,
        self_deaf: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = VoiceStateRequest {
            guild_id: snowflake("guild_id", guild_id)?,
            channel_id: channel_id.map(|c| snowflake("channel_id", c)).transpose()?,
            self_mute,
            self_deaf,
        };
        let client = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            client.update_voice_state(&request).await.map_err(to_py)
        })
    }

    /// Sends a PRESENCE_UPDATE (JSON body) to every shard.
    fn update_presence<'py>(&self, py: Python<'py>, body: String) -> PyResult<Bound<'py, PyAny>> {
        let d: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
            to_py(ddiscord::ClientError::new(
                ddiscord::client::ClientErrorKind::Config {
                    message: format!("the presence is not JSON: {e}"),
                },
            ))
        })?;
        let client = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            client.update_presence(&d).await.map_err(to_py)
        })
    }

    /// Answers an interaction received by the HTTP endpoint with a response object (JSON),
    /// published on `<root>-interaction-reply/<interaction_id>`.
    fn reply_interaction<'py>(
        &self,
        py: Python<'py>,
        interaction_id: &Bound<'py, PyAny>,
        body: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = snowflake("interaction_id", interaction_id)?;
        let response: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
            to_py(ddiscord::ClientError::new(
                ddiscord::client::ClientErrorKind::InvalidArgument {
                    message: format!("the interaction response is not JSON: {e}"),
                },
            ))
        })?;
        let client = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            client.reply_interaction(id, &response).await.map_err(to_py)
        })
    }

    /// Sends REQUEST_GUILD_MEMBERS; resolves to a `NativeStream` of the GUILD_MEMBERS_CHUNK
    /// events carrying its nonce, which ends after the last chunk.
    #[pyo3(signature = (guild_id, *, query = None, limit = 0, presences = false, user_ids = None, nonce = None))]
    #[allow(clippy::too_many_arguments)]
    fn request_guild_members<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
        query: Option<String>,
        limit: u32,
        presences: bool,
        user_ids: Option<Vec<Bound<'py, PyAny>>>,
        nonce: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let user_ids = user_ids
            .unwrap_or_default()
            .iter()
            .map(|u| snowflake("user_id", u))
            .collect::<PyResult<Vec<_>>>()?;
        let query = if query.is_none() && user_ids.is_empty() {
            Some(String::new())
        } else {
            query
        };
        let request = MemberRequest {
            guild_id: snowflake("guild_id", guild_id)?,
            query,
            limit,
            presences,
            user_ids,
            nonce,
        };
        let client = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let chunks = client
                .request_guild_members(&request)
                .await
                .map_err(to_py)?;
            Ok(NativeStream::new(chunks))
        })
    }

    /// Disconnects; open streams end.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            client.close().await;
            Ok(())
        })
    }
}
