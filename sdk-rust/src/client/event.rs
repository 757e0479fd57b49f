//! An event as a subscriber sees it: where it was published, the envelope's head, the raw
//! bytes, and the payload parsed only when asked for.

use bytes::Bytes;
use serde::de::{DeserializeOwned, DeserializeSeed};
use twilight_model::gateway::event::{DispatchEvent, DispatchEventWithTypeDeserializer};

use super::error::{ClientError, ClientErrorKind};
use crate::envelope::Envelope;
use crate::topic::{Topics, Tree};

/// One dispatch received on the `discord/…` or `discord-state/…` tree.
///
/// The head (`shard`, `session`, `received_ms`, `op`, `t`, `s`) is read once when the event
/// arrives; `d` stays bytes until [`Event::payload`], [`Event::json`] or [`Event::dispatch`]
/// parses it. Envelope format: `topics.yaml`, `envelope`.
#[derive(Debug, Clone)]
pub struct Event {
    topic: String,
    tree: Tree,
    guild_id: Option<u64>,
    name_start: usize,
    envelope: Envelope,
}

impl Event {
    /// Reads an event from a message of the dispatch or state tree.
    ///
    /// # Errors
    /// [`ClientErrorKind::Payload`] when the topic is not `<root>[-state]/{shard}/{guild}/{event}`
    /// or the body is not an envelope.
    pub fn from_message(topics: &Topics, topic: String, body: Bytes) -> Result<Self, ClientError> {
        let envelope = Envelope::parse(body).map_err(|e| {
            ClientError::with_source(
                ClientErrorKind::Payload {
                    event: topic.clone(),
                },
                e,
            )
        })?;
        Self::from_envelope(topics, topic, envelope)
    }

    /// An event from a topic and an already parsed envelope.
    ///
    /// # Errors
    /// As [`Self::from_message`] for the topic.
    pub fn from_envelope(
        topics: &Topics,
        topic: String,
        envelope: Envelope,
    ) -> Result<Self, ClientError> {
        let parsed = topics.parse_dispatch(&topic).map_err(|e| {
            ClientError::with_source(
                ClientErrorKind::Payload {
                    event: "an event".into(),
                },
                e,
            )
        })?;
        let (tree, guild_id) = (parsed.tree, parsed.guild);
        let name_start = topic.len() - parsed.event.len();
        Ok(Self {
            topic,
            tree,
            guild_id,
            name_start,
            envelope,
        })
    }

    /// The topic it was published on, e.g. `discord/0/81384788765712384/MESSAGE_CREATE`.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's levels.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.topic.split('/')
    }

    /// [`Tree::Dispatch`] for `discord/…`, [`Tree::State`] for `discord-state/…`.
    pub fn tree(&self) -> Tree {
        self.tree
    }

    /// The shard that received the dispatch.
    pub fn shard(&self) -> u32 {
        self.envelope.shard()
    }

    /// The guild snowflake from the topic, `None` for events without a guild.
    pub fn guild_id(&self) -> Option<u64> {
        self.guild_id
    }

    /// The dispatch name (`t`), e.g. `MESSAGE_CREATE`, taken from the topic.
    pub fn name(&self) -> &str {
        self.topic.get(self.name_start..).unwrap_or_default()
    }

    /// The sequence number (`s`) within the gateway session.
    pub fn sequence(&self) -> Option<u64> {
        self.envelope.sequence()
    }

    /// The gateway session id the event belongs to.
    pub fn session(&self) -> Option<&str> {
        self.envelope.session()
    }

    /// Unix time in milliseconds at which ingest read the frame.
    pub fn received_ms(&self) -> u64 {
        self.envelope.received_ms()
    }

    /// The whole envelope as published (JSON, UTF-8).
    pub fn bytes(&self) -> &Bytes {
        self.envelope.as_bytes()
    }

    /// The bytes of `d`, exactly as Discord sent them.
    pub fn d_bytes(&self) -> &[u8] {
        self.envelope.d_bytes()
    }

    /// The parsed envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Deserialises `d` into `T`, e.g. `twilight_model::gateway::payload::incoming::MessageCreate`.
    ///
    /// # Errors
    /// [`ClientErrorKind::Payload`] when `d` does not match `T`.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        self.envelope.payload().map_err(|e| self.payload_error(e))
    }

    /// `d` as a JSON value.
    ///
    /// # Errors
    /// [`ClientErrorKind::Payload`] when `d` is not JSON.
    pub fn json(&self) -> Result<serde_json::Value, ClientError> {
        self.payload()
    }

    /// `d` as twilight-model's typed dispatch event, chosen by the dispatch name.
    ///
    /// # Errors
    /// [`ClientErrorKind::Payload`] when the name is unknown to twilight-model (Discord sends
    /// undocumented events; read those with [`Self::json`]) or `d` does not match its type.
    pub fn dispatch(&self) -> Result<DispatchEvent, ClientError> {
        let mut de = serde_json::Deserializer::from_slice(self.d_bytes());
        DispatchEventWithTypeDeserializer::new(self.name())
            .deserialize(&mut de)
            .map_err(|e| self.payload_error(e))
    }

    fn payload_error(&self, e: impl std::error::Error + Send + Sync + 'static) -> ClientError {
        ClientError::with_source(
            ClientErrorKind::Payload {
                event: self.name().to_owned(),
            },
            e,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{EnvelopeMeta, wrap};

    #[test]
    fn reads_head_and_parses_on_demand() {
        let frame = br#"{"op":0,"s":7,"t":"TYPING_START","d":{"channel_id":"2","user_id":"3","timestamp":1,"guild_id":"81384788765712384"}}"#;
        let body = wrap(
            &EnvelopeMeta {
                shard: 2,
                session: Some("s1"),
                received_ms: 5,
            },
            frame,
        )
        .unwrap();
        let topics = Topics::default();
        let topic = topics
            .dispatch(2, Some(81384788765712384), "TYPING_START")
            .unwrap();
        let e = Event::from_message(&topics, topic.as_str().into(), body).unwrap();
        assert_eq!(e.name(), "TYPING_START");
        assert_eq!(e.shard(), 2);
        assert_eq!(e.guild_id(), Some(81384788765712384));
        assert_eq!(e.sequence(), Some(7));
        assert_eq!(e.session(), Some("s1"));
        assert_eq!(e.tree(), Tree::Dispatch);
        assert_eq!(e.json().unwrap()["user_id"], "3");
        assert!(matches!(
            e.dispatch().unwrap(),
            DispatchEvent::TypingStart(_)
        ));

        let bad = Event::from_message(&topics, "discord/x/-/A".into(), Bytes::new());
        assert!(bad.is_err());
        let bad = Event::from_message(&topics, topic.as_str().into(), Bytes::from_static(b"[]"));
        assert!(bad.is_err());
    }
}
