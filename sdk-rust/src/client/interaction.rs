//! Replies to interactions that Discord delivered over HTTP (`ddiscord interactions`,
//! `docs/interactions.md`): the endpoint replica holding the request subscribes to
//! `<root>-interaction-reply/<interaction id>` and answers Discord with the first reply that
//! arrives before its deadline (2.5 s by default), else with a deferral.
//!
//! Response object:
//! <https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object>.

use bytes::Bytes;

use super::{Client, ClientError, ClientErrorKind};
use crate::mesh::Delivery;

impl Client {
    /// Answers interaction `interaction_id` (the `id` of an INTERACTION_CREATE's `d`) with
    /// `response`, an interaction response object such as
    /// `{"type": 4, "data": {"content": "pong"}}`, published with guaranteed delivery on
    /// `<root>-interaction-reply/<interaction_id>`.
    ///
    /// Only interactions received by the HTTP endpoint are answered this way; the endpoint
    /// gives Discord the first reply that arrives before its deadline and drops later ones
    /// (after the deadline the interaction was deferred: edit the original response through
    /// the interaction webhook instead). Resolves once the broker has the reply, not when
    /// Discord got it.
    ///
    /// # Errors
    /// [`ClientErrorKind::InvalidId`] for id 0, [`ClientErrorKind::InvalidArgument`] when
    /// `response` is not an object with a numeric `type`, [`ClientErrorKind::Mesh`] when the
    /// publish fails.
    pub async fn reply_interaction(
        &self,
        interaction_id: u64,
        response: &serde_json::Value,
    ) -> Result<(), ClientError> {
        if interaction_id == 0 {
            return Err(ClientError::invalid_id("interaction_id", 0));
        }
        if !response.get("type").is_some_and(serde_json::Value::is_u64) {
            return Err(ClientError::new(ClientErrorKind::InvalidArgument {
                message: "an interaction response is an object with a numeric `type` (4: CHANNEL_MESSAGE_WITH_SOURCE, 5: DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, 6: DEFERRED_UPDATE_MESSAGE, 7: UPDATE_MESSAGE, 8: APPLICATION_COMMAND_AUTOCOMPLETE_RESULT, 9: MODAL)".to_owned(),
            }));
        }
        let topic = self.topics().interaction_reply(interaction_id)?;
        let body = Bytes::from(serde_json::to_vec(response).unwrap_or_default());
        self.inner
            .mesh
            .publish(&topic, body, Delivery::Guaranteed)
            .await
            .map_err(|e| {
                ClientError::with_source(
                    ClientErrorKind::Mesh {
                        action: format!("publishing the reply on {topic}"),
                    },
                    e,
                )
            })?;
        metrics::counter!("ddiscord_client_interaction_replies_total").increment(1);
        Ok(())
    }
}
