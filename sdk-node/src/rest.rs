//! REST calls for Node: one Promise entry point over the core's
//! [`ddiscord::rest::Rest::call`]; the call waits for its turn in the rate limits shared
//! through Redis on the Tokio runtime and resolves to Discord's JSON text (`""` for `204 No
//! Content`), which `index.js` parses.

use napi_derive::napi;

use crate::client::Client;
use crate::error::{ErrorKind, NodeError, Settled};
use crate::ids::snowflake;

#[napi]
impl Client {
    /// Discord's JSON text answering REST call `call` (`create_message`, `delete_message`,
    /// `add_member_role`, ... : `ddiscord::rest::CALLS`) with `ids` (snowflake strings, in the
    /// call's order), the JSON text `body` and the interaction `token` where the call takes
    /// them.
    ///
    /// Errors: `DDISCORD_INVALID_ID`, `DDISCORD_INVALID_ARGUMENT`, `DDISCORD_CONFIG` (no
    /// `DISCORD_TOKEN`), `DDISCORD_DISCORD` (Discord's error status and code in the message),
    /// `DDISCORD_RATE_LIMITED`, `DDISCORD_CACHE` (Redis), `DDISCORD_CLOSED`.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn rest_call(
        &self,
        call: String,
        ids: Vec<String>,
        body: Option<String>,
        token: Option<String>,
    ) -> Settled<String> {
        Settled(
            async {
                self.check_open()?;
                let ids = ids
                    .iter()
                    .map(|i| snowflake("id", i))
                    .collect::<crate::error::Result<Vec<u64>>>()?;
                let body = body
                    .map(|b| serde_json::from_str::<serde_json::Value>(&b))
                    .transpose()
                    .map_err(|e| {
                        NodeError::with_source(
                            ErrorKind::InvalidArgument,
                            "the body is not JSON".to_owned(),
                            e,
                        )
                    })?;
                let rest = self.core().rest().await.map_err(NodeError::from)?;
                let bytes = rest
                    .call(&call, &ids, body.as_ref(), token.as_deref())
                    .await
                    .map_err(|e| NodeError::from(ddiscord::ClientError::from(e)))?;
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            .await,
        )
    }
}
