//! Cache reads for Python: one entry point over the core's [`CacheQuery`]; the read runs on the
//! Tokio runtime without the GIL and resolves to JSON text (twilight-model's serialisation,
//! Discord's shapes), which `ddiscord.cache` parses once and wraps in its model classes.

use ddiscord::cache::CacheQuery;
use pyo3::prelude::*;

use crate::client::NativeClient;
use crate::errors::{id_text, to_py};

#[pymethods]
impl NativeClient {
    /// JSON text answering the cache read `read` for `ids` (ints or decimal strs, in the read's
    /// order; `members` takes the guild, then any number of users): `null` when not cached, an
    /// array for the reads of several values. `limit` is the most messages of
    /// `recent_messages` (default 50).
    #[pyo3(signature = (read, ids, limit = None))]
    fn cache_query<'py>(
        &self,
        py: Python<'py>,
        read: &str,
        ids: Vec<Bound<'py, PyAny>>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ids: Vec<String> = ids.iter().map(id_text).collect();
        let query = CacheQuery::parse(read, &ids, limit).map_err(|e| to_py(e.into()))?;
        let client = self.client().clone();
        crate::runtime::future_into_py(py, async move {
            client.query_cache(&query).await.map_err(to_py)
        })
    }
}
