//! Cache reads for Python: each resolves to the JSON text of the typed value (twilight-model's
//! serialisation, Discord's shapes) or `None`; the Python side parses it once and wraps it in
//! its model classes. The read itself runs on the Tokio runtime without the GIL.

use std::future::Future;

use ddiscord::cache::CacheReader;
use ddiscord::client::ClientError;
use pyo3::prelude::*;
use redis::aio::ConnectionManager;
use serde::Serialize;

use crate::client::NativeClient;
use crate::errors::{snowflake, to_py};

type Reader = CacheReader<ConnectionManager>;

/// Runs `read` on the client's cache reader and resolves to its JSON (`None` for `null`).
fn read_json<'py, T, F, Fut>(
    py: Python<'py>,
    client: &ddiscord::Client,
    read: F,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Serialize,
    F: FnOnce(Reader) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, ddiscord::cache::CacheError>> + Send,
{
    let client = client.clone();
    crate::runtime::future_into_py(py, async move {
        let reader = client.cache().await.map_err(to_py)?;
        let value = read(reader)
            .await
            .map_err(|e| to_py(ClientError::from(e)))?;
        let json = serde_json::to_string(&value).unwrap_or_else(|_| "null".into());
        Ok(if json == "null" { None } else { Some(json) })
    })
}

#[pymethods]
impl NativeClient {
    /// JSON of the guild (without collections) or `None`.
    fn cache_guild<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        read_json(py, self.client(), move |r| async move { r.guild(g).await })
    }

    /// JSON of a channel or thread by id, or `None`.
    fn cache_channel<'py>(
        &self,
        py: Python<'py>,
        channel_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = snowflake("channel_id", channel_id)?;
        read_json(
            py,
            self.client(),
            move |r| async move { r.channel(c).await },
        )
    }

    /// JSON array of the guild's channels and threads.
    fn cache_channels<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        read_json(
            py,
            self.client(),
            move |r| async move { r.channels(g).await },
        )
    }

    /// JSON of a role, or `None`.
    fn cache_role<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
        role_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        let id = snowflake("role_id", role_id)?;
        read_json(
            py,
            self.client(),
            move |r| async move { r.role(g, id).await },
        )
    }

    /// JSON array of the guild's roles.
    fn cache_roles<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        read_json(py, self.client(), move |r| async move { r.roles(g).await })
    }

    /// JSON of a member with its user, or `None`.
    fn cache_member<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
        user_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        let u = snowflake("user_id", user_id)?;
        read_json(
            py,
            self.client(),
            move |r| async move { r.member(g, u).await },
        )
    }

    /// JSON array of members in the order asked (`null` where not cached), one round trip.
    fn cache_members<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
        user_ids: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        let users = user_ids
            .iter()
            .map(|u| snowflake("user_id", u))
            .collect::<PyResult<Vec<_>>>()?;
        read_json(py, self.client(), move |r| async move {
            r.members(g, &users).await
        })
    }

    /// JSON of a user, or `None`.
    fn cache_user<'py>(
        &self,
        py: Python<'py>,
        user_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let u = snowflake("user_id", user_id)?;
        read_json(py, self.client(), move |r| async move { r.user(u).await })
    }

    /// JSON of the bot's own user, or `None`.
    fn cache_current_user<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        read_json(
            py,
            self.client(),
            move |r| async move { r.current_user().await },
        )
    }

    /// JSON of a presence, or `None`.
    fn cache_presence<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
        user_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        let u = snowflake("user_id", user_id)?;
        read_json(
            py,
            self.client(),
            move |r| async move { r.presence(g, u).await },
        )
    }

    /// JSON of a voice state, or `None`.
    fn cache_voice_state<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
        user_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        let u = snowflake("user_id", user_id)?;
        read_json(py, self.client(), move |r| async move {
            r.voice_state(g, u).await
        })
    }

    /// JSON array of the guild's voice states.
    fn cache_voice_states<'py>(
        &self,
        py: Python<'py>,
        guild_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = snowflake("guild_id", guild_id)?;
        read_json(py, self.client(), move |r| async move {
            r.voice_states(g).await
        })
    }

    /// JSON array of up to `limit` cached messages of the channel, newest first.
    #[pyo3(signature = (channel_id, limit = 50))]
    fn cache_recent_messages<'py>(
        &self,
        py: Python<'py>,
        channel_id: &Bound<'py, PyAny>,
        limit: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = snowflake("channel_id", channel_id)?;
        read_json(py, self.client(), move |r| async move {
            r.recent_messages(c, limit).await
        })
    }
}
