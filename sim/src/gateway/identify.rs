//! IDENTIFY checks, as Discord applies them
//! (<https://discord.com/developers/docs/events/gateway#identifying>,
//! <https://discord.com/developers/docs/events/gateway#session-start-limit-object>).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::close::CloseCode;
use crate::config::SimConfig;

/// Every intent bit Discord defines (up to `DIRECT_MESSAGE_POLLS`, 1 << 25).
pub const KNOWN_INTENTS: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 9)
    | (1 << 10)
    | (1 << 11)
    | (1 << 12)
    | (1 << 13)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 20)
    | (1 << 21)
    | (1 << 24)
    | (1 << 25);

/// Minimum spacing of IDENTIFYs in one `max_concurrency` bucket, in ms.
pub const IDENTIFY_INTERVAL_MS: u64 = 5000;
/// Jitter tolerated on that spacing, in ms: a client whose queue releases IDENTIFYs exactly 5 s
/// apart (twilight's `InMemoryQueue`) must not be refused because one IDENTIFY took a little
/// longer to arrive than the next.
pub const IDENTIFY_GRACE_MS: u64 = 100;

/// The IDENTIFY `d` fields the simulator checks.
#[derive(Debug, Deserialize)]
pub(crate) struct Identify {
    pub token: String,
    pub intents: u64,
    pub properties: Value,
    #[serde(default)]
    pub shard: Option<[u32; 2]>,
    /// Members above which a guild's GUILD_CREATE leaves out offline members: 50 to 250,
    /// default 50 (<https://discord.com/developers/docs/events/gateway-events#identify>).
    #[serde(default)]
    pub large_threshold: Option<u64>,
}

/// Default IDENTIFY `large_threshold` (Discord: 50).
pub(crate) const DEFAULT_LARGE_THRESHOLD: u64 = 50;
/// Largest IDENTIFY `large_threshold` (Discord: 250).
pub(crate) const MAX_LARGE_THRESHOLD: u64 = 250;

/// The RESUME `d` fields.
#[derive(Debug, Deserialize)]
pub(crate) struct Resume {
    pub token: String,
    pub session_id: String,
    pub seq: Option<u64>,
}

/// Compares a token from IDENTIFY/RESUME with the configured one (with or without `Bot `).
pub(crate) fn token_ok(given: &str, expected: &str) -> bool {
    let strip = |t: &str| t.strip_prefix("Bot ").unwrap_or(t).to_owned();
    strip(given) == strip(expected)
}

/// Checks an IDENTIFY against the configuration; `Err` is the close code to send.
pub(crate) fn check(
    id: &Identify,
    cfg: &SimConfig,
    guild_total: usize,
) -> Result<[u32; 2], CloseCode> {
    if !token_ok(&id.token, &cfg.token) {
        return Err(CloseCode::AuthenticationFailed);
    }
    if !id.properties.is_object() {
        return Err(CloseCode::DecodeError);
    }
    let shard = match id.shard {
        Some(s) => s,
        None => {
            if cfg.shards > 1 || guild_total > cfg.max_guilds_per_shard as usize {
                return Err(CloseCode::ShardingRequired);
            }
            [0, 1]
        }
    };
    if shard[1] == 0 || shard[0] >= shard[1] || shard[1] != cfg.shards {
        return Err(CloseCode::InvalidShard);
    }
    if id.intents & !KNOWN_INTENTS != 0 {
        return Err(CloseCode::InvalidIntents);
    }
    let privileged = id.intents & crate::config::PRIVILEGED_INTENTS;
    if privileged & !cfg.privileged_intents != 0 {
        return Err(CloseCode::DisallowedIntents);
    }
    Ok(shard)
}

/// Why an otherwise valid IDENTIFY was refused with op 9 `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Another IDENTIFY in the same bucket within 5 s.
    Concurrency,
    /// `session_start_limit.remaining` is 0.
    StartLimit,
}

/// `session_start_limit` and `max_concurrency` bookkeeping, on the simulated clock.
#[derive(Debug)]
pub(crate) struct StartLimits {
    total: u32,
    remaining: u32,
    period_ms: u64,
    reset_at_ms: u64,
    max_concurrency: u32,
    last_in_bucket: HashMap<u32, u64>,
}

/// The `session_start_limit` object of `GET /gateway/bot`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SessionStartLimit {
    /// IDENTIFYs allowed per reset period.
    pub total: u32,
    /// IDENTIFYs left in this period.
    pub remaining: u32,
    /// ms until `remaining` resets to `total`.
    pub reset_after: u64,
    /// IDENTIFY buckets per 5 s.
    pub max_concurrency: u32,
}

impl StartLimits {
    pub(crate) fn new(cfg: &SimConfig) -> Self {
        Self {
            total: cfg.session_start_total,
            remaining: cfg.session_start_total,
            period_ms: cfg.session_start_reset_ms,
            reset_at_ms: cfg.session_start_reset_ms,
            max_concurrency: cfg.max_concurrency,
            last_in_bucket: HashMap::new(),
        }
    }

    fn roll(&mut self, now_ms: u64) {
        if now_ms >= self.reset_at_ms {
            self.remaining = self.total;
            let periods = (now_ms - self.reset_at_ms) / self.period_ms.max(1) + 1;
            self.reset_at_ms += periods * self.period_ms.max(1);
        }
    }

    /// Takes a session start for `shard_id` at `now_ms`, or says why not.
    pub(crate) fn try_start(&mut self, shard_id: u32, now_ms: u64) -> Result<(), Refusal> {
        self.roll(now_ms);
        if self.remaining == 0 {
            return Err(Refusal::StartLimit);
        }
        let bucket = shard_id % self.max_concurrency.max(1);
        if let Some(last) = self.last_in_bucket.get(&bucket)
            && now_ms.saturating_sub(*last) < IDENTIFY_INTERVAL_MS - IDENTIFY_GRACE_MS
        {
            return Err(Refusal::Concurrency);
        }
        self.last_in_bucket.insert(bucket, now_ms);
        self.remaining -= 1;
        Ok(())
    }

    /// The current `session_start_limit` object.
    pub(crate) fn snapshot(&mut self, now_ms: u64) -> SessionStartLimit {
        self.roll(now_ms);
        SessionStartLimit {
            total: self.total,
            remaining: self.remaining,
            reset_after: self.reset_at_ms.saturating_sub(now_ms),
            max_concurrency: self.max_concurrency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_daily_limit() {
        let cfg = SimConfig {
            max_concurrency: 2,
            session_start_total: 3,
            session_start_reset_ms: 100_000,
            ..SimConfig::default()
        };
        let mut l = StartLimits::new(&cfg);
        assert_eq!(l.try_start(0, 0), Ok(()));
        assert_eq!(l.try_start(1, 0), Ok(()));
        assert_eq!(l.try_start(2, 4899), Err(Refusal::Concurrency));
        assert_eq!(l.try_start(2, 5000), Ok(()));
        assert_eq!(l.try_start(3, 10_000), Err(Refusal::StartLimit));
        assert_eq!(l.try_start(3, 100_000), Ok(()));
        assert_eq!(l.snapshot(100_000).remaining, 2);
    }
}
