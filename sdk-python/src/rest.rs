//! REST calls for Python: one entry point over the core's [`ddiscord::rest::Rest::call`]; the
//! call waits for its turn in the rate limits shared through Redis on the Tokio runtime without
//! the GIL and resolves to Discord's JSON text (`""` for `204 No Content`), which
//! `ddiscord.rest` parses.

use pyo3::prelude::*;

use crate::client::NativeClient;
use crate::errors::{snowflake, to_py};

#[pymethods]
impl NativeClient {
    /// Discord's JSON text answering REST call `call` (a name of `ddiscord::rest::CALLS`) with
    /// `ids` in the call's order, the JSON text `body` and the interaction `token` where the
    /// call takes them.
    #[pyo3(signature = (call, ids, body = None, token = None))]
    fn rest_call<'py>(
        &self,
        py: Python<'py>,
        call: String,
        ids: Vec<Bound<'py, PyAny>>,
        body: Option<String>,
        token: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ids = ids
            .iter()
            .map(|i| snowflake("id", i))
            .collect::<PyResult<Vec<u64>>>()?;
        let body = body
            .map(|b| serde_json::from_str::<serde_json::Value>(&b))
            .transpose()
            .map_err(|e| {
                to_py(ddiscord::ClientError::new(
                    ddiscord::client::ClientErrorKind::InvalidArgument {
                        message: format!("the body is not JSON: {e}"),
                    },
                ))
            })?;
        let client = self.client().clone();
        crate::runtime::future_into_py(py, async move {
            let rest = client.rest().await.map_err(to_py)?;
            let bytes = rest
                .call(&call, &ids, body.as_ref(), token.as_deref())
                .await
                .map_err(|e| to_py(e.into()))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        })
    }
}
