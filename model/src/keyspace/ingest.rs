//! The Redis keys ingest keeps: gateway sessions and the IDENTIFY budget.
//!
//! | key | type | contents |
//! |---|---|---|
//! | `{prefix}session:{shard}` | hash | `session_id`, `sequence` (the last sequence the mesh acknowledged, never one merely received), `resume_url`, `shard_count`, `token` (the fencing token of the lease it was written under), `node`, `updated_ms` |
//! | `{prefix}identify:budget` | hash | `total`, `remaining`, `reset_at_ms` (Redis server time) of the daily IDENTIFY budget |
//! | `{prefix}identify:bucket:{b}` | string, expires after 5 s | the node and shard that identified last in rate-limit bucket `b` (`shard % max_concurrency`) |
//!
//! Source of the budget and buckets: <https://discord.com/developers/docs/events/gateway#session-start-limit-object>.

/// Key of the persisted gateway session of `shard`.
pub fn session_key(prefix: &str, shard: u32) -> String {
    format!("{prefix}session:{shard}")
}

/// Key of the daily IDENTIFY budget.
pub fn identify_budget_key(prefix: &str) -> String {
    format!("{prefix}identify:budget")
}

/// Key of IDENTIFY rate-limit bucket `bucket`.
pub fn identify_bucket_key(prefix: &str, bucket: u32) -> String {
    format!("{prefix}identify:bucket:{bucket}")
}
