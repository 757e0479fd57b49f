//! The envelope: a Discord dispatch frame as received, with the fields a consumer needs that
//! Discord does not send spliced in front.
//!
//! ```text
//! {"shard":3,"session":"9f1c…","received_ms":1763719200123,"op":0,"t":"MESSAGE_CREATE","s":42,"d":{…}}
//! └──────────────── spliced by ingest ──────────────────────┘└──────── Discord's bytes ─────────┘
//! ```
//!
//! The frame's bytes are never re-serialised, so any JSON parser in any language reads the
//! envelope and `d` is byte-for-byte what Discord sent. Reading is lazy: [`FrameHead`] and
//! [`Envelope`] find `op`, `t`, `s` and `d` in one scan that skips nested values without
//! allocating, and [`FrameHead::guild_id`] reads only the guild id out of `d`.
//!
//! Frame format: <https://discord.com/developers/docs/events/gateway-events#payload-structure>.

use std::borrow::Cow;
use std::io::Write as _;
use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::contract::{self, GuildSource};

/// Why a frame or an envelope could not be read or built.
///
/// [`EnvelopeError::kind`] says what was wrong; the parser's error is the source.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct EnvelopeError {
    kind: EnvelopeErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl EnvelopeError {
    fn new(kind: EnvelopeErrorKind) -> Self {
        Self { kind, source: None }
    }

    fn malformed(source: serde_json::Error) -> Self {
        Self {
            kind: EnvelopeErrorKind::Malformed,
            source: Some(Box::new(source)),
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> &EnvelopeErrorKind {
        &self.kind
    }
}

/// The kinds of [`EnvelopeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeErrorKind {
    /// Not a JSON object with the gateway payload fields; the frame should be counted and
    /// skipped, never forwarded.
    Malformed,
    /// The frame is not a JSON object (`{…}`).
    NotAnObject {
        /// The first bytes of what was given.
        got: String,
    },
    /// `d` could not be deserialised into the requested type.
    Payload {
        /// Dispatch name.
        event: String,
    },
    /// A guild id that is not a snowflake.
    BadSnowflake {
        /// The first characters of what was given.
        got: String,
    },
}

impl std::fmt::Display for EnvelopeErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed gateway frame or envelope"),
            Self::NotAnObject { got } => {
                write!(f, "a gateway frame must be a JSON object, got {got:?}")
            }
            Self::Payload { event } => write!(
                f,
                "dispatch payload `d` of {event} does not match the expected type"
            ),
            Self::BadSnowflake { got } => write!(
                f,
                "guild id {got:?} is not a snowflake (a decimal u64 in a string)"
            ),
        }
    }
}

#[derive(Deserialize)]
struct RawHead<'a> {
    op: u8,
    #[serde(borrow, default)]
    t: Option<Cow<'a, str>>,
    #[serde(default)]
    s: Option<u64>,
    #[serde(borrow, default)]
    d: Option<&'a RawValue>,
    #[serde(default)]
    shard: Option<u32>,
    #[serde(borrow, default)]
    session: Option<Cow<'a, str>>,
    #[serde(default)]
    received_ms: Option<u64>,
}

#[derive(Deserialize)]
struct GuildScan<'a> {
    #[serde(borrow, default)]
    guild_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

/// The head of a gateway frame (`op`, `t`, `s`, and `d` unparsed), borrowed from its bytes.
#[derive(Debug)]
pub struct FrameHead<'a> {
    /// Gateway opcode (0 for a dispatch).
    pub op: u8,
    /// Dispatch name, present when `op` is 0.
    pub t: Option<Cow<'a, str>>,
    /// Sequence number, present when `op` is 0.
    pub s: Option<u64>,
    /// The payload, unparsed.
    pub d: Option<&'a RawValue>,
}

impl<'a> FrameHead<'a> {
    /// Reads `op`, `t`, `s` and the extent of `d` from a frame (or an envelope).
    ///
    /// # Errors
    /// [`EnvelopeErrorKind::Malformed`] when the bytes are not a JSON object with an `op`.
    pub fn parse(frame: &'a [u8]) -> Result<Self, EnvelopeError> {
        let raw: RawHead<'a> = serde_json::from_slice(frame).map_err(EnvelopeError::malformed)?;
        Ok(Self {
            op: raw.op,
            t: raw.t,
            s: raw.s,
            d: raw.d,
        })
    }

    /// The guild the dispatch belongs to, read as `topics.yaml` says for this event name
    /// (`d.guild_id`, or `d.id` for GUILD_CREATE/UPDATE/DELETE); `None` for events without one.
    ///
    /// # Errors
    /// [`EnvelopeErrorKind::BadSnowflake`] when the id is not a decimal u64, and
    /// [`EnvelopeErrorKind::Malformed`] when `d` is not an object.
    pub fn guild_id(&self) -> Result<Option<u64>, EnvelopeError> {
        guild_id_of(self.t.as_deref(), self.d)
    }
}

fn guild_id_of(t: Option<&str>, d: Option<&RawValue>) -> Result<Option<u64>, EnvelopeError> {
    let (Some(t), Some(d)) = (t, d) else {
        return Ok(None);
    };
    let source = contract::guild_source(t);
    if source == GuildSource::None || !d.get().starts_with('{') {
        return Ok(None);
    }
    let scan: GuildScan<'_> = serde_json::from_str(d.get()).map_err(EnvelopeError::malformed)?;
    let id = match source {
        GuildSource::Id => scan.id,
        _ => scan.guild_id,
    };
    id.map(|id| parse_guild_id(&id)).transpose()
}

/// The guild id of a payload, through the one snowflake rule of [`crate::snowflake`].
fn parse_guild_id(s: &str) -> Result<u64, EnvelopeError> {
    crate::snowflake::parse_snowflake("guild_id", s).map_err(|e| EnvelopeError {
        kind: EnvelopeErrorKind::BadSnowflake {
            got: s.chars().take(40).collect(),
        },
        source: Some(Box::new(e)),
    })
}

/// What ingest adds to a frame.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeMeta<'a> {
    /// The shard that received the frame.
    pub shard: u32,
    /// The gateway session id, if the shard has one yet.
    pub session: Option<&'a str>,
    /// Unix time in milliseconds at which the frame was read.
    pub received_ms: u64,
}

/// Builds an envelope by splicing `meta` in front of `frame`'s fields; `frame` is not
/// re-serialised.
///
/// # Errors
/// [`EnvelopeErrorKind::NotAnObject`] when `frame` does not start with `{`. The rest of the frame is
/// not validated here: callers parse its [`FrameHead`] first.
pub fn wrap(meta: &EnvelopeMeta<'_>, frame: &[u8]) -> Result<Bytes, EnvelopeError> {
    let start = frame
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(frame.len());
    if frame.get(start) != Some(&b'{') {
        return Err(EnvelopeError::new(EnvelopeErrorKind::NotAnObject {
            got: String::from_utf8_lossy(&frame[start..frame.len().min(start + 16)]).into_owned(),
        }));
    }
    let rest = &frame[start + 1..];
    let mut out = Vec::with_capacity(frame.len() + 96);
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{{\"shard\":{},\"session\":", meta.shard);
    match meta.session {
        // serde_json escapes the session id; it is Discord's string, usually hex.
        Some(session) => {
            let _ = serde_json::to_writer(&mut out, session);
        }
        None => out.extend_from_slice(b"null"),
    }
    let _ = write!(out, ",\"received_ms\":{}", meta.received_ms);
    let empty = rest
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| *b == b'}');
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Ok(Bytes::from(out))
}

/// A received envelope: the bytes plus the head fields, read once.
#[derive(Debug, Clone)]
pub struct Envelope {
    bytes: Bytes,
    shard: u32,
    session: Option<String>,
    received_ms: u64,
    op: u8,
    event: Option<String>,
    sequence: Option<u64>,
    d: Option<Range<usize>>,
}

impl Envelope {
    /// Reads the head of an envelope.
    ///
    /// # Errors
    /// [`EnvelopeErrorKind::Malformed`] when the bytes are not an envelope (`shard` and `op` are
    /// required).
    pub fn parse(bytes: Bytes) -> Result<Self, EnvelopeError> {
        let raw: RawHead<'_> = serde_json::from_slice(&bytes).map_err(EnvelopeError::malformed)?;
        let Some(shard) = raw.shard else {
            return Err(EnvelopeError::malformed(serde::de::Error::missing_field(
                "shard",
            )));
        };
        let base = bytes.as_ptr() as usize;
        let d = raw.d.map(|d| {
            let start = d.get().as_ptr() as usize - base;
            start..start + d.get().len()
        });
        let envelope = Self {
            shard,
            session: raw.session.map(Cow::into_owned),
            received_ms: raw.received_ms.unwrap_or(0),
            op: raw.op,
            event: raw.t.map(Cow::into_owned),
            sequence: raw.s,
            d,
            bytes: Bytes::new(),
        };
        Ok(Self { bytes, ..envelope })
    }

    /// The whole envelope as sent on the mesh.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The shard that received it.
    pub fn shard(&self) -> u32 {
        self.shard
    }

    /// The gateway session id.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Unix time in milliseconds at which ingest read the frame.
    pub fn received_ms(&self) -> u64 {
        self.received_ms
    }

    /// Gateway opcode (0 for dispatches).
    pub fn op(&self) -> u8 {
        self.op
    }

    /// Dispatch name (`t`).
    pub fn event(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// Sequence number (`s`).
    pub fn sequence(&self) -> Option<u64> {
        self.sequence
    }

    /// The raw bytes of `d`, exactly as Discord sent them (empty when absent).
    pub fn d_bytes(&self) -> &[u8] {
        self.d
            .as_ref()
            .and_then(|r| self.bytes.get(r.clone()))
            .unwrap_or_default()
    }

    /// `d` as a raw JSON value.
    pub fn d_raw(&self) -> Option<&RawValue> {
        let s = std::str::from_utf8(self.d_bytes()).ok()?;
        serde_json::from_str(s).ok()
    }

    /// The guild id, read from `d` as `topics.yaml` says for this event.
    ///
    /// # Errors
    /// As [`FrameHead::guild_id`].
    pub fn guild_id(&self) -> Result<Option<u64>, EnvelopeError> {
        guild_id_of(self.event.as_deref(), self.d_raw())
    }

    /// Deserialises `d` into `T` (a twilight-model type, or `serde_json::Value`).
    ///
    /// # Errors
    /// [`EnvelopeErrorKind::Payload`] when `d` does not match `T`.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        serde_json::from_slice(self.d_bytes()).map_err(|source| EnvelopeError {
            kind: EnvelopeErrorKind::Payload {
                event: self.event.clone().unwrap_or_default(),
            },
            source: Some(Box::new(source)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: &[u8] = br#"{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"id":"1","content":"{\"guild_id\":\"9\"}","guild_id":"81384788765712384","nested":{"guild_id":"5"}}}"#;

    #[test]
    fn head_and_guild() {
        let head = FrameHead::parse(FRAME).unwrap();
        assert_eq!(head.op, 0);
        assert_eq!(head.t.as_deref(), Some("MESSAGE_CREATE"));
        assert_eq!(head.s, Some(42));
        assert_eq!(head.guild_id().unwrap(), Some(81384788765712384));
    }

    #[test]
    fn guild_create_uses_id() {
        let frame =
            br#"{"op":0,"s":2,"t":"GUILD_CREATE","d":{"members":[{"guild_id":"1"}],"id":"77"}}"#;
        assert_eq!(
            FrameHead::parse(frame).unwrap().guild_id().unwrap(),
            Some(77)
        );
        let ready = br#"{"op":0,"s":1,"t":"READY","d":{"guild_id":"5"}}"#;
        assert_eq!(FrameHead::parse(ready).unwrap().guild_id().unwrap(), None);
        let dm = br#"{"op":0,"s":1,"t":"MESSAGE_CREATE","d":{"id":"5"}}"#;
        assert_eq!(FrameHead::parse(dm).unwrap().guild_id().unwrap(), None);
        let unknown = br#"{"op":0,"s":1,"t":"SOMETHING_NEW","d":{"guild_id":"6"}}"#;
        assert_eq!(
            FrameHead::parse(unknown).unwrap().guild_id().unwrap(),
            Some(6)
        );
    }

    #[test]
    fn wrap_keeps_frame_bytes() {
        let meta = EnvelopeMeta {
            shard: 3,
            session: Some("abc\"def"),
            received_ms: 17,
        };
        let env = wrap(&meta, FRAME).unwrap();
        assert!(env.ends_with(&FRAME[1..]));
        let parsed = Envelope::parse(env.clone()).unwrap();
        assert_eq!(parsed.shard(), 3);
        assert_eq!(parsed.session(), Some("abc\"def"));
        assert_eq!(parsed.received_ms(), 17);
        assert_eq!(parsed.event(), Some("MESSAGE_CREATE"));
        assert_eq!(parsed.sequence(), Some(42));
        assert_eq!(parsed.guild_id().unwrap(), Some(81384788765712384));
        let d =
            &FRAME[FRAME.windows(5).position(|w| w == b"\"d\":{").unwrap() + 4..FRAME.len() - 1];
        assert_eq!(parsed.d_bytes(), d);
        let v: serde_json::Value = parsed.payload().unwrap();
        assert_eq!(v["id"], "1");
        // Any JSON parser reads it.
        let v: serde_json::Value = serde_json::from_slice(&env).unwrap();
        assert_eq!(v["shard"], 3);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(FrameHead::parse(b"").is_err());
        assert!(FrameHead::parse(b"[1,2]").is_err());
        assert!(FrameHead::parse(br#"{"op":"x"}"#).is_err());
        assert!(
            FrameHead::parse(br#"{"op":0,"t":"GUILD_CREATE","d":{"id":"x"}}"#)
                .unwrap()
                .guild_id()
                .is_err()
        );
        let meta = EnvelopeMeta {
            shard: 0,
            session: None,
            received_ms: 0,
        };
        assert!(wrap(&meta, b"[]").is_err());
        assert_eq!(
            &wrap(&meta, b"{}").unwrap()[..],
            br#"{"shard":0,"session":null,"received_ms":0}"#
        );
        assert!(Envelope::parse(Bytes::from_static(br#"{"op":0}"#)).is_err());
    }
}
