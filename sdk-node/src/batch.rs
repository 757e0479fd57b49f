//! Events cross into JavaScript in batches: one N-API call per batch, not per event.
//!
//! A batch is the events' topics, their envelopes back to back in one `Buffer`, and the end
//! offset of each envelope. The JS entry wraps each event in a small object that slices its
//! envelope out of the buffer and parses it only when the script reads it.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// Events delivered to JavaScript in one crossing.
///
/// Event `i` has topic `topics[i]` and its envelope (UTF-8 JSON, the Discord dispatch frame plus
/// `shard`, `session` and `received_ms`) in `data[ends[i - 1] .. ends[i]]` (bytes; `ends[-1]`
/// is 0).
#[napi(object)]
pub struct EventBatch {
    /// The topic of each event, e.g. `discord/0/81384788765712384/MESSAGE_CREATE`.
    pub topics: Vec<String>,
    /// The envelopes back to back.
    pub data: Buffer,
    /// The end offset in bytes of each envelope in `data`.
    pub ends: Vec<u32>,
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
        self.topics.push(topic.to_owned());
        self.data.extend_from_slice(payload);
        self.ends
            .push(u32::try_from(self.data.len()).unwrap_or(u32::MAX));
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
        self.topics.len() >= max || self.data.len() >= MAX_BATCH_BYTES
    }

    /// Number of events so far.
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// The batch to return to JavaScript.
    pub fn finish(self) -> EventBatch {
        let queue = !self.delivery_ids.is_empty();
        EventBatch {
            topics: self.topics,
            data: Buffer::from(self.data),
            ends: self.ends,
            delivery_ids: queue.then_some(self.delivery_ids),
            redelivered: queue.then_some(self.redelivered),
            deliveries: queue.then_some(self.deliveries),
        }
    }
}
