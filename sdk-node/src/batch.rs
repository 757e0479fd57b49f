//! Events cross into JavaScript in batches: one crossing per batch, not per event.
//!
//! A batch is its distinct topics (each once, however many of its events came on it), the
//! envelopes back to back in one `Buffer`, and two `Uint32Array`s: each event's topic index and
//! the end offset of its envelope. Converting it costs the JS thread a few objects per batch
//! and one string per distinct topic, nothing per event. The JS entry wraps each event in a
//! small object that slices its envelope out of the buffer and parses it only when the script
//! reads it.

use std::collections::HashMap;

use napi::bindgen_prelude::{Buffer, Uint32Array};
use napi_derive::napi;

/// Events delivered to JavaScript in one crossing.
///
/// Event `i` has topic `topics[topicOf[i]]` and its envelope (UTF-8 JSON, the Discord dispatch
/// frame plus `shard`, `session` and `received_ms`) in `data[ends[i - 1] .. ends[i]]` (bytes;
/// `ends[-1]` is 0).
#[napi(object)]
pub struct EventBatch {
    /// The distinct topics of the batch, in order of first use, e.g.
    /// `discord/0/81384788765712384/MESSAGE_CREATE`.
    pub topics: Vec<String>,
    /// Per event: the index of its topic in `topics`.
    pub topic_of: Uint32Array,
    /// The envelopes back to back.
    pub data: Buffer,
    /// Per event: the end offset in bytes of its envelope in `data`.
    pub ends: Uint32Array,
    /// For work-queue deliveries only: the id to pass to `ack`/`nack`, per event.
    pub delivery_ids: Option<Vec<u32>>,
    /// For work-queue deliveries only: whether the broker delivered the event before (it was
    /// not acknowledged in time, or its consumer died), per event.
    pub redelivered: Option<Vec<bool>>,
    /// For work-queue deliveries only: deliveries of the event to this replica so far (1 on
    /// the first; nacks add one), per event.
    pub deliveries: Option<Vec<u32>>,
}

/// A batch stops growing once its envelopes reach this many bytes (16 MiB).
pub const MAX_BATCH_BYTES: usize = 16 << 20;

/// Collects events into an [`EventBatch`].
#[derive(Default)]
pub struct BatchBuilder {
    topics: Vec<String>,
    /// Index of each topic in `topics`, once there are two or more.
    index: HashMap<String, u32>,
    topic_of: Vec<u32>,
    data: Vec<u8>,
    ends: Vec<u32>,
    delivery_ids: Vec<u32>,
    redelivered: Vec<bool>,
    deliveries: Vec<u32>,
}

impl BatchBuilder {
    /// Adds an event.
    ///
    /// Callers stop adding once [`Self::is_full`]; as an MQTT packet is at most 256 MiB, the
    /// buffer then stays far below the 4 GiB a `u32` offset addresses.
    pub fn push(&mut self, topic: &str, payload: &[u8]) {
        let t = self.topic_index(topic);
        self.topic_of.push(t);
        self.data.extend_from_slice(payload);
        self.ends
            .push(u32::try_from(self.data.len()).unwrap_or(u32::MAX));
    }

    /// The index of `topic` in the batch's distinct topics, added if new. Consecutive events
    /// on one topic (the common case) cost one comparison.
    fn topic_index(&mut self, topic: &str) -> u32 {
        if let Some(&last) = self.topic_of.last()
            && self.topics.get(last as usize).is_some_and(|t| t == topic)
        {
            return last;
        }
        if let Some(&i) = self.index.get(topic) {
            return i;
        }
        let i = u32::try_from(self.topics.len()).unwrap_or(u32::MAX);
        if self.index.is_empty()
            && let Some(first) = self.topics.first()
        {
            // The second distinct topic: from now on they are looked up by name.
            self.index.insert(first.clone(), 0);
        }
        if !self.topics.is_empty() {
            self.index.insert(topic.to_owned(), i);
        }
        self.topics.push(topic.to_owned());
        i
    }

    /// Adds a work-queue delivery.
    pub fn push_delivery(
        &mut self,
        topic: &str,
        payload: &[u8],
        id: u32,
        redelivered: bool,
        deliveries: u32,
    ) {
        self.push(topic, payload);
        self.delivery_ids.push(id);
        self.redelivered.push(redelivered);
        self.deliveries.push(deliveries);
    }

    /// Whether the batch has `max` events or [`MAX_BATCH_BYTES`] of envelopes.
    pub fn is_full(&self, max: usize) -> bool {
        self.ends.len() >= max || self.data.len() >= MAX_BATCH_BYTES
    }

    /// Number of events so far.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The batch to return to JavaScript.
    pub fn finish(self) -> EventBatch {
        let queue = !self.delivery_ids.is_empty();
        EventBatch {
            topics: self.topics,
            topic_of: Uint32Array::new(self.topic_of),
            data: Buffer::from(self.data),
            ends: Uint32Array::new(self.ends),
            delivery_ids: queue.then_some(self.delivery_ids),
            redelivered: queue.then_some(self.redelivered),
            deliveries: queue.then_some(self.deliveries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_kept_once_in_order_of_first_use() {
        let mut b = BatchBuilder::default();
        for (topic, body) in [
            ("a/1", "x"),
            ("a/1", "yy"),
            ("b/2", "z"),
            ("a/1", ""),
            ("c/3", "w"),
            ("b/2", "v"),
        ] {
            b.push(topic, body.as_bytes());
        }
        assert_eq!(b.len(), 6);
        assert_eq!(b.topics, ["a/1", "b/2", "c/3"]);
        assert_eq!(b.topic_of, [0, 0, 1, 0, 2, 1]);
        assert_eq!(b.ends, [1, 3, 4, 4, 5, 6]);
        assert_eq!(b.data, b"xyyzwv");
    }
}
