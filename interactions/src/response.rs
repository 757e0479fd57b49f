//! What the endpoint answers Discord with: PONG, a script's reply as it came, or a deferral.
//!
//! Interaction types and response types:
//! <https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-type>
//! and
//! <https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-interaction-callback-type>.

use serde::Deserialize;

/// Interaction type 1, PING: Discord checking the endpoint.
pub const PING: u8 = 1;
/// Interaction type 2, APPLICATION_COMMAND.
pub const APPLICATION_COMMAND: u8 = 2;
/// Interaction type 3, MESSAGE_COMPONENT.
pub const MESSAGE_COMPONENT: u8 = 3;
/// Interaction type 4, APPLICATION_COMMAND_AUTOCOMPLETE.
pub const AUTOCOMPLETE: u8 = 4;
/// Interaction type 5, MODAL_SUBMIT.
pub const MODAL_SUBMIT: u8 = 5;

/// The answer to a PING: callback type 1, PONG.
pub const PONG: &str = r#"{"type":1}"#;

/// The answer when no script replied in time, by interaction type:
///
/// - a component (3): type 6, DEFERRED_UPDATE_MESSAGE (the message is edited later, no
///   loading state shown);
/// - autocomplete (4), which cannot be deferred: type 8 with no choices;
/// - anything else (commands, modal submits): type 5,
///   DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE (the user sees "thinking…"; the bot follows up
///   through the interaction webhook, `PATCH /webhooks/{application.id}/{token}/messages/@original`,
///   within 15 minutes).
pub fn deferred(interaction_type: u8) -> &'static str {
    match interaction_type {
        MESSAGE_COMPONENT => r#"{"type":6}"#,
        AUTOCOMPLETE => r#"{"type":8,"data":{"choices":[]}}"#,
        _ => r#"{"type":5}"#,
    }
}

/// The fields of an interaction the endpoint reads (the rest is passed on untouched).
#[derive(Debug, Deserialize)]
pub(crate) struct InteractionHead<'a> {
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(borrow, default)]
    pub id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    pub guild_id: Option<std::borrow::Cow<'a, str>>,
}

/// Whether `reply` is an interaction response Discord can take: a JSON object with a numeric
/// `type`.
pub(crate) fn is_response(reply: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        _kind: u8,
    }
    // A struct also deserialises from a JSON array; only an object is a response.
    reply.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && serde_json::from_slice::<Head>(reply).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferral_by_type() {
        assert_eq!(deferred(APPLICATION_COMMAND), r#"{"type":5}"#);
        assert_eq!(deferred(MODAL_SUBMIT), r#"{"type":5}"#);
        assert_eq!(deferred(MESSAGE_COMPONENT), r#"{"type":6}"#);
        assert!(deferred(AUTOCOMPLETE).contains(r#""type":8"#));
        assert!(is_response(br#"{"type":4,"data":{"content":"hi"}}"#));
        assert!(!is_response(br#"{"data":{}}"#));
        assert!(!is_response(b"[1]"));
    }
}
