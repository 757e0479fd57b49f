//! Dispatch payloads as Discord sent them: a JSON object split into its fields, each field's
//! value kept as the exact text Discord sent ([`RawValue`]). The projection reads only the ids
//! it files entities under and stores everything else untouched, so fields and flag bits this
//! project (or twilight-model) does not know survive into the cache.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Why a payload does not have the shape the projection needs (the event is rejected, never
/// half-applied). The text names the field, e.g. `members[3].user.id is not a snowflake`.
#[derive(Debug)]
pub struct Shape(pub(crate) String);

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Shape {}

/// A JSON object's fields in the order sent, each value its raw text.
#[derive(Debug, Default, Clone)]
pub struct RawObject<'a> {
    fields: Vec<(Cow<'a, str>, Cow<'a, RawValue>)>,
}

impl<'a> RawObject<'a> {
    /// Splits `text`, which must be a JSON object; `what` names it in the error.
    pub fn parse(text: &'a str, what: &str) -> Result<Self, Shape> {
        serde_json::from_str(text).map_err(|e| Shape(format!("{what} is not a JSON object: {e}")))
    }

    /// Splits the object `value`.
    pub fn of(value: &'a RawValue, what: &str) -> Result<Self, Shape> {
        Self::parse(value.get(), what)
    }

    /// Splits the object at `key` (`None` when absent or `null`).
    pub fn child(&self, key: &str, what: &str) -> Result<Option<RawObject<'a>>, Shape> {
        match self.get_borrowed(key) {
            Some(v) if v.get() != "null" => RawObject::of(v, &format!("{what}.{key}")).map(Some),
            _ => Ok(None),
        }
    }

    /// The raw value of `key` (the last one when the key repeats).
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The raw value of `key` as borrowed from the parsed text, when it was not replaced.
    pub fn get_borrowed(&self, key: &str) -> Option<&'a RawValue> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                Cow::Borrowed(v) => Some(*v),
                Cow::Owned(_) => None,
            })
    }

    /// Removes `key` and returns its raw value.
    pub fn take(&mut self, key: &str) -> Option<Cow<'a, RawValue>> {
        let at = self.fields.iter().rposition(|(k, _)| k == key)?;
        let (_, value) = self.fields.remove(at);
        self.fields.retain(|(k, _)| k != key);
        Some(value)
    }

    /// Sets `key` to `value`, replacing it where present.
    pub fn set(&mut self, key: &'static str, value: Cow<'a, RawValue>) {
        match self.fields.iter().position(|(k, _)| k == key) {
            Some(at) => {
                self.fields[at].1 = value;
                let mut i = 0;
                self.fields.retain(|(k, _)| {
                    i += 1;
                    i - 1 <= at || k != key
                });
            }
            None => self.fields.push((Cow::Borrowed(key), value)),
        }
    }

    /// Sets `key` to the JSON text `json`, which the caller wrote (a number, `true`, an
    /// object built from raw values).
    pub fn set_json(&mut self, key: &'static str, json: String) -> Result<(), Shape> {
        let value = RawValue::from_string(json).map_err(|e| Shape(format!("{key}: {e}")))?;
        self.set(key, Cow::Owned(value));
        Ok(())
    }

    /// The required snowflake `key` (a decimal string, as Discord sends ids).
    pub fn id(&self, key: &str, what: &str) -> Result<u64, Shape> {
        self.opt_id(key, what)?
            .ok_or_else(|| Shape(format!("{what}.{key} is missing")))
    }

    /// The snowflake `key`, `None` when absent or `null`.
    pub fn opt_id(&self, key: &str, what: &str) -> Result<Option<u64>, Shape> {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        let text: Option<Cow<'_, str>> = serde_json::from_str(raw.get())
            .map_err(|_| Shape(format!("{what}.{key} is not a snowflake string")))?;
        match text {
            None => Ok(None),
            Some(text) => ddiscord::snowflake::parse_snowflake("id", &text)
                .map(Some)
                .map_err(|e| Shape(format!("{what}.{key}: {e}"))),
        }
    }

    /// Whether `key` is the JSON literal `true`.
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.get() == "true")
    }

    /// Whether `key` is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.get() != "null")
    }

    /// The object as compact JSON: `{"key":value,…}`, each value as sent.
    pub fn to_json(&self) -> String {
        let len: usize = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum();
        let mut out = String::with_capacity(len + 2);
        out.push('{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_key(&mut out, k);
            out.push(':');
            out.push_str(v.get());
        }
        out.push('}');
        out
    }

    /// The fields as `(key as a JSON string, raw value)` pairs, for the projection script's
    /// merge, which compares keys as JSON text.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|(k, v)| {
                let mut key = String::with_capacity(k.len() + 2);
                push_key(&mut key, k);
                (key, v.get().to_owned())
            })
            .collect()
    }
}

/// Appends `key` as a JSON string, escaped as serde_json escapes.
fn push_key(out: &mut String, key: &str) {
    if key
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ')
    {
        out.push('"');
        out.push_str(key);
        out.push('"');
    } else {
        // Not reachable for Discord's field names; escaped properly all the same.
        out.push_str(&serde_json::Value::from(key).to_string());
    }
}

/// The elements of the array `value`, each as sent.
pub fn array<'a>(value: &'a RawValue, what: &str) -> Result<Vec<&'a RawValue>, Shape> {
    serde_json::from_str(value.get()).map_err(|e| Shape(format!("{what} is not an array: {e}")))
}

/// The objects of the array `key` of `object` (empty when absent or `null`).
pub fn objects<'a>(object: &RawObject<'a>, key: &str) -> Result<Vec<RawObject<'a>>, Shape> {
    match object.get_borrowed(key) {
        Some(v) if v.get() != "null" => array(v, key)?
            .into_iter()
            .enumerate()
            .map(|(i, item)| RawObject::of(item, &format!("{key}[{i}]")))
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// The snowflakes of the array `key` of `object` (empty when absent or `null`).
pub fn ids(object: &RawObject<'_>, key: &str) -> Result<Vec<u64>, Shape> {
    let Some(value) = object.get_borrowed(key).filter(|v| v.get() != "null") else {
        return Ok(Vec::new());
    };
    let texts: Vec<Cow<'_, str>> = serde_json::from_str(value.get())
        .map_err(|e| Shape(format!("{key} is not an array of snowflakes: {e}")))?;
    texts
        .iter()
        .map(|t| {
            ddiscord::snowflake::parse_snowflake("id", t)
                .map_err(|e| Shape(format!("{key}[]: {e}")))
        })
        .collect()
}

/// A key that borrows from the input where it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    fields.push((key, Cow::Borrowed(value)));
                }
                Ok(RawObject { fields })
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_fields_as_sent() {
        let text = r#"{"id":"5","permissions":"2248473465835073","x_new":[1, {"a":2}],"n":null}"#;
        let object = RawObject::parse(text, "role").unwrap();
        assert_eq!(object.id("id", "role").unwrap(), 5);
        assert_eq!(object.opt_id("n", "role").unwrap(), None);
        assert_eq!(
            object.to_json(),
            r#"{"id":"5","permissions":"2248473465835073","x_new":[1, {"a":2}],"n":null}"#
        );
    }

    #[test]
    fn take_and_set() {
        let text = r#"{"user":{"id":"7"},"nick":"n"}"#;
        let mut member = RawObject::parse(text, "member").unwrap();
        let user = member.take("user").unwrap();
        assert_eq!(
            RawObject::of(&user, "user")
                .unwrap()
                .id("id", "user")
                .unwrap(),
            7
        );
        let gid = RawObject::parse(r#"{"id":"9"}"#, "g").unwrap();
        member.set("guild_id", Cow::Borrowed(gid.get_borrowed("id").unwrap()));
        assert_eq!(member.to_json(), r#"{"nick":"n","guild_id":"9"}"#);
        assert_eq!(
            member.to_pairs(),
            vec![
                ("\"nick\"".to_owned(), "\"n\"".to_owned()),
                ("\"guild_id\"".to_owned(), "\"9\"".to_owned())
            ]
        );
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(RawObject::parse("[1]", "d").is_err());
        let object = RawObject::parse(r#"{"id":5,"g":"x"}"#, "d").unwrap();
        assert!(object.id("id", "d").is_err());
        assert!(object.id("g", "d").is_err());
        assert!(object.id("missing", "d").is_err());
        assert!(objects(&object, "g").is_err());
    }

    #[test]
    fn escaped_keys_are_kept() {
        let object = RawObject::parse(r#"{"a\"b":1}"#, "d").unwrap();
        assert_eq!(object.to_json(), r#"{"a\"b":1}"#);
    }
}
