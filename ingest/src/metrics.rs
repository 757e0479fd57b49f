//! Prometheus metrics of the ingest node. Every drop, retry, refusal and fence is counted here
//! and logged where it happens.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `ddiscord_ingest_events_in_total` | counter | `shard`: frames read from the gateway |
//! | `ddiscord_ingest_events_out_total` | counter | `shard`: dispatches acknowledged by the mesh |
//! | `ddiscord_ingest_publish_seconds` | histogram | `shard`: read → broker acknowledgement |
//! | `ddiscord_ingest_buffer_fill` | gauge | `shard`: dispatches read but not yet acknowledged |
//! | `ddiscord_ingest_buffer_full_total` | counter | `shard`: times the shard stopped reading because the buffer was full |
//! | `ddiscord_ingest_cache_lag` | gauge | `shard`: dispatches read that the cache has not applied yet (with `DDISCORD_MAX_CACHE_LAG`) |
//! | `ddiscord_ingest_cache_paused_total` | counter | `shard`: times the shard stopped reading because the cache was too far behind |
//! | `ddiscord_ingest_publish_retries_total` | counter | `shard` |
//! | `ddiscord_ingest_malformed_frames_total` | counter | `shard`: frames skipped because they are not gateway JSON |
//! | `ddiscord_ingest_reconnects_total` | counter | `shard` |
//! | `ddiscord_ingest_resumes_total` | counter | `shard` |
//! | `ddiscord_ingest_identifies_total` | counter | `shard` |
//! | `ddiscord_ingest_identify_refused_total` | counter | `shard` |
//! | `ddiscord_ingest_identify_remaining` | gauge | daily IDENTIFY budget left |
//! | `ddiscord_ingest_fenced_total` | counter | `shard`: publishes or session writes refused because the lease was lost |
//! | `ddiscord_ingest_session_saves_total` / `_session_save_errors_total` | counter | `shard` |
//! | `ddiscord_ingest_commands_total` / `_commands_rejected_total` | counter | `shard`, `command` / `reason` |
//! | `ddiscord_ingest_publish_refused_total` | counter | `reason`: dispatches the broker refused for good (or over the payload limit), sent to the dead-letter stream |
//! | `ddiscord_ingest_dead_letter_errors_total` | counter | refused dispatches whose dead letter could not be written (lost) |
//! | `ddiscord_ingest_shards_held` | gauge | shards this node runs |
//! | `ddiscord_ingest_lease_events_total` | counter | `kind`: acquired, lost, released |

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

/// Metric handles of one shard, resolved once so the hot path only increments.
#[derive(Clone)]
pub(crate) struct ShardMetrics {
    pub events_in: Counter,
    pub events_out: Counter,
    pub publish_seconds: Histogram,
    pub buffer_fill: Gauge,
    pub buffer_full: Counter,
    pub cache_lag: Gauge,
    pub cache_paused: Counter,
    pub publish_retries: Counter,
    pub malformed: Counter,
    pub reconnects: Counter,
    pub resumes: Counter,
    pub identifies: Counter,
    pub fenced: Counter,
    pub session_saves: Counter,
    pub session_save_errors: Counter,
}

impl ShardMetrics {
    pub(crate) fn new(shard: u32) -> Self {
        let s = shard.to_string();
        Self {
            events_in: counter!("ddiscord_ingest_events_in_total", "shard" => s.clone()),
            events_out: counter!("ddiscord_ingest_events_out_total", "shard" => s.clone()),
            publish_seconds: histogram!("ddiscord_ingest_publish_seconds", "shard" => s.clone()),
            buffer_fill: gauge!("ddiscord_ingest_buffer_fill", "shard" => s.clone()),
            buffer_full: counter!("ddiscord_ingest_buffer_full_total", "shard" => s.clone()),
            cache_lag: gauge!("ddiscord_ingest_cache_lag", "shard" => s.clone()),
            cache_paused: counter!("ddiscord_ingest_cache_paused_total", "shard" => s.clone()),
            publish_retries: counter!("ddiscord_ingest_publish_retries_total", "shard" => s.clone()),
            malformed: counter!("ddiscord_ingest_malformed_frames_total", "shard" => s.clone()),
            reconnects: counter!("ddiscord_ingest_reconnects_total", "shard" => s.clone()),
            resumes: counter!("ddiscord_ingest_resumes_total", "shard" => s.clone()),
            identifies: counter!("ddiscord_ingest_identifies_total", "shard" => s.clone()),
            fenced: counter!("ddiscord_ingest_fenced_total", "shard" => s.clone()),
            session_saves: counter!("ddiscord_ingest_session_saves_total", "shard" => s.clone()),
            session_save_errors: counter!("ddiscord_ingest_session_save_errors_total", "shard" => s),
        }
    }
}

pub(crate) fn command(shard: u32, command: &str) {
    counter!("ddiscord_ingest_commands_total", "shard" => shard.to_string(), "command" => command.to_owned())
        .increment(1);
}

pub(crate) fn command_rejected(shard: u32, reason: &'static str) {
    counter!("ddiscord_ingest_commands_rejected_total", "shard" => shard.to_string(), "reason" => reason)
        .increment(1);
}

pub(crate) fn identify_refused(shard: u32) {
    counter!("ddiscord_ingest_identify_refused_total", "shard" => shard.to_string()).increment(1);
}

#[allow(clippy::cast_precision_loss)]
pub(crate) fn identify_remaining(remaining: u64) {
    gauge!("ddiscord_ingest_identify_remaining").set(remaining as f64);
}

#[allow(clippy::cast_precision_loss)]
pub(crate) fn shards_held(n: usize) {
    gauge!("ddiscord_ingest_shards_held").set(n as f64);
}

pub(crate) fn lease_event(kind: &'static str) {
    counter!("ddiscord_ingest_lease_events_total", "kind" => kind).increment(1);
}

pub(crate) fn publish_refused(reason: &str) {
    counter!("ddiscord_ingest_publish_refused_total", "reason" => reason.to_owned()).increment(1);
}

pub(crate) fn dead_letter_failed() {
    counter!("ddiscord_ingest_dead_letter_errors_total").increment(1);
}
