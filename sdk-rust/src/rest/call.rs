//! One entry point over the calls of [`Rest`](super::Rest) by name, for the Python and Node
//! bindings: `call("delete_message", &[channel, message], None, None)`.

use bytes::Bytes;
use serde_json::Value;

use super::{Rest, RestError, RestErrorKind};

/// The calls [`Rest::call`] knows, with the ids each takes (in order) and whether it takes a
/// body or an interaction token.
pub const CALLS: &[(&str, &[&str], bool, bool)] = &[
    ("create_message", &["channel_id"], true, false),
    ("get_message", &["channel_id", "message_id"], false, false),
    ("edit_message", &["channel_id", "message_id"], true, false),
    (
        "delete_message",
        &["channel_id", "message_id"],
        false,
        false,
    ),
    ("delete_messages", &["channel_id"], true, false),
    (
        "add_member_role",
        &["guild_id", "user_id", "role_id"],
        false,
        false,
    ),
    (
        "remove_member_role",
        &["guild_id", "user_id", "role_id"],
        false,
        false,
    ),
    ("modify_member", &["guild_id", "user_id"], true, false),
    ("kick_member", &["guild_id", "user_id"], false, false),
    ("ban_member", &["guild_id", "user_id"], true, false),
    (
        "create_interaction_response",
        &["interaction_id"],
        true,
        true,
    ),
    ("create_followup", &["application_id"], true, true),
    ("get_guild", &["guild_id"], false, false),
    ("get_guild_channels", &["guild_id"], false, false),
    ("get_member", &["guild_id", "user_id"], false, false),
    ("get_channel", &["channel_id"], false, false),
];

fn invalid(message: String) -> RestError {
    RestError::new(RestErrorKind::InvalidRequest { message })
}

impl Rest {
    /// Runs the call `name` (one of [`CALLS`]) with its `ids` in order, its JSON `body` and
    /// interaction `token` where it takes them. `delete_messages` takes its body as
    /// `{"messages": [ids]}`.
    ///
    /// # Errors
    /// [`RestErrorKind::InvalidRequest`] for an unknown call or missing arguments; otherwise as
    /// the call.
    pub async fn call(
        &self,
        name: &str,
        ids: &[u64],
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Result<Bytes, RestError> {
        let Some((_, wanted, takes_body, takes_token)) = CALLS.iter().find(|c| c.0 == name) else {
            return Err(invalid(format!("{name:?} is not a REST call")));
        };
        if ids.len() != wanted.len() {
            return Err(invalid(format!(
                "{name} takes {} ({}), got {} ids",
                wanted.len(),
                wanted.join(", "),
                ids.len()
            )));
        }
        let empty = Value::Object(serde_json::Map::new());
        let body = match (takes_body, body) {
            (true, Some(b)) => b,
            (true, None) => &empty,
            (false, _) => &empty,
        };
        let token = match (takes_token, token) {
            (true, Some(t)) => t,
            (true, None) => return Err(invalid(format!("{name} needs the interaction token"))),
            (false, _) => "",
        };
        let id = |i: usize| ids.get(i).copied().unwrap_or(0);
        match name {
            "create_message" => self.create_message(id(0), body).await,
            "get_message" => self.get_message(id(0), id(1)).await,
            "edit_message" => self.edit_message(id(0), id(1), body).await,
            "delete_message" => self.delete_message(id(0), id(1)).await,
            "delete_messages" => {
                let list: Vec<u64> = body["messages"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| {
                                v.as_u64()
                                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.delete_messages(id(0), &list).await
            }
            "add_member_role" => self.add_member_role(id(0), id(1), id(2)).await,
            "remove_member_role" => self.remove_member_role(id(0), id(1), id(2)).await,
            "modify_member" => self.modify_member(id(0), id(1), body).await,
            "kick_member" => self.kick_member(id(0), id(1)).await,
            "ban_member" => self.ban_member(id(0), id(1), body).await,
            "create_interaction_response" => {
                self.create_interaction_response(id(0), token, body).await
            }
            "create_followup" => self.create_followup(id(0), token, body).await,
            "get_guild" => self.get_guild(id(0)).await,
            "get_guild_channels" => self.get_guild_channels(id(0)).await,
            "get_member" => self.get_member(id(0), id(1)).await,
            "get_channel" => self.get_channel(id(0)).await,
            _ => Err(invalid(format!("{name:?} is not a REST call"))),
        }
    }
}
