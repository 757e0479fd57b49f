//! The rate limits every process of a bot shares, in Redis
//! (<https://discord.com/developers/docs/topics/rate-limits>): the buckets learned from the
//! `X-RateLimit-*` headers, the global limit, 429s with their `retry_after`, and the invalid
//! requests of the last 10 minutes. Both sides are Lua scripts (`acquire.lua`, `update.lua`), so
//! each decision is atomic across processes; the keys are in
//! [`ddiscord_model::keyspace::rest`].

use std::time::Duration;

use hyper::HeaderMap;
use redis::aio::ConnectionManager;
use tokio::time::Instant;

use super::error::{RestError, RestErrorKind};
use super::route::RouteKey;

/// The limits a [`SharedLimiter`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Requests per global window over every route but interactions and webhooks (Discord: 50
    /// per second; `DDISCORD_REST_GLOBAL_LIMIT`).
    pub global_limit: u32,
    /// Length of the global window (default 1050 ms: Discord's second with 5% for the jitter
    /// between sending and Discord's count).
    pub global_window: Duration,
    /// Invalid requests (401, 403, 429) in 10 minutes after which the bot stops with
    /// [`RestErrorKind::InvalidRequestLimit`] (default 9,000, under Cloudflare's 10,000;
    /// `DDISCORD_REST_INVALID_LIMIT`).
    pub invalid_limit: u32,
    /// How long the one request learning an unknown bucket's window holds the others back if
    /// it never answers.
    pub probe_timeout: Duration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            global_limit: 50,
            global_window: Duration::from_millis(1050),
            invalid_limit: 9000,
            probe_timeout: Duration::from_secs(5),
        }
    }
}

/// The Redis side of the shared limits of one bot.
#[derive(Clone)]
pub(crate) struct SharedLimiter {
    redis: ConnectionManager,
    prefix: String,
    cfg: LimiterConfig,
    acquire: redis::Script,
    update: redis::Script,
}

/// What a response said about the limits.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Observed {
    pub status: u16,
    pub bucket: String,
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_after_ms: Option<u64>,
    pub retry_after_ms: u64,
    pub scope: String,
    pub global: bool,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Seconds with a fraction (`1.234`) to whole ms, rounded up.
fn secs_to_ms(s: f64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (s * 1000.0).ceil().max(0.0) as u64;
    ms
}

impl Observed {
    /// Reads the `X-RateLimit-*` headers and a 429's body `{retry_after, global}`
    /// (<https://discord.com/developers/docs/topics/rate-limits#header-format>).
    pub(crate) fn from_response(status: u16, h: &HeaderMap, body: &[u8]) -> Self {
        let num = |name| header(h, name).and_then(|v| v.parse::<u64>().ok());
        let mut o = Self {
            status,
            bucket: header(h, "x-ratelimit-bucket")
                .unwrap_or_default()
                .to_owned(),
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            reset_after_ms: header(h, "x-ratelimit-reset-after")
                .and_then(|v| v.parse::<f64>().ok())
                .map(secs_to_ms),
            retry_after_ms: 0,
            scope: header(h, "x-ratelimit-scope")
                .unwrap_or_default()
                .to_owned(),
            global: header(h, "x-ratelimit-global") == Some("true"),
        };
        if status == 429 {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            o.global |= v["global"].as_bool().unwrap_or(false);
            o.retry_after_ms = v["retry_after"]
                .as_f64()
                .or_else(|| header(h, "retry-after").and_then(|r| r.parse().ok()))
                .map_or(1000, secs_to_ms);
        }
        o
    }
}

/// The outcome of one `acquire.lua` call.
enum Turn {
    Go(String),
    Wait(Duration),
    Stopped(u64),
}

impl SharedLimiter {
    pub(crate) fn new(redis: ConnectionManager, prefix: String, cfg: LimiterConfig) -> Self {
        Self {
            redis,
            prefix,
            cfg,
            acquire: redis::Script::new(include_str!("acquire.lua")),
            update: redis::Script::new(include_str!("update.lua")),
        }
    }

    async fn try_acquire(&self, key: &RouteKey, id: &str) -> Result<Turn, RestError> {
        let mut redis = self.redis.clone();
        let (code, value): (i64, String) = self
            .acquire
            .arg(&self.prefix)
            .arg(&key.route)
            .arg(&key.major)
            .arg(self.cfg.global_limit)
            .arg(u64::try_from(self.cfg.global_window.as_millis()).unwrap_or(u64::MAX))
            .arg(self.cfg.invalid_limit)
            .arg(u64::try_from(self.cfg.probe_timeout.as_millis()).unwrap_or(u64::MAX))
            .arg(id)
            .arg(if key.global { "1" } else { "0" })
            .invoke_async(&mut redis)
            .await
            .map_err(|e| {
                RestError::with_source(
                    RestErrorKind::Redis {
                        action: "taking a request's turn in the rate limits".into(),
                    },
                    e,
                )
            })?;
        Ok(match code {
            0 => Turn::Go(value),
            -1 => Turn::Stopped(value.parse().unwrap_or(0)),
            _ => Turn::Wait(Duration::from_millis(value.parse().unwrap_or(10))),
        })
    }

    /// Waits for the request's turn under `key`; returns the bucket key it went under.
    ///
    /// # Errors
    /// [`RestErrorKind::RateLimited`] when the turn would come after `deadline`,
    /// [`RestErrorKind::InvalidRequestLimit`] when the bot is stopped,
    /// [`RestErrorKind::Redis`].
    pub(crate) async fn acquire(
        &self,
        key: &RouteKey,
        id: &str,
        deadline: Instant,
    ) -> Result<String, RestError> {
        loop {
            match self.try_acquire(key, id).await? {
                Turn::Go(bucket) => return Ok(bucket),
                Turn::Stopped(count) => {
                    return Err(RestError::new(RestErrorKind::InvalidRequestLimit { count }));
                }
                Turn::Wait(wait) => {
                    if Instant::now() + wait > deadline {
                        return Err(RestError::new(RestErrorKind::RateLimited {
                            retry_after: wait,
                        }));
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Records what a response said; returns the invalid requests of the last 10 minutes.
    ///
    /// # Errors
    /// [`RestErrorKind::Redis`].
    pub(crate) async fn record(
        &self,
        key: &RouteKey,
        bucket_key: &str,
        id: &str,
        o: &Observed,
    ) -> Result<u64, RestError> {
        let mut redis = self.redis.clone();
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        self.update
            .arg(&self.prefix)
            .arg(&key.route)
            .arg(&key.major)
            .arg(bucket_key)
            .arg(o.status)
            .arg(&o.bucket)
            .arg(opt(o.limit))
            .arg(opt(o.remaining))
            .arg(opt(o.reset_after_ms))
            .arg(o.retry_after_ms)
            .arg(&o.scope)
            .arg(id)
            .arg(if o.global { "1" } else { "0" })
            .invoke_async(&mut redis)
            .await
            .map_err(|e| {
                RestError::with_source(
                    RestErrorKind::Redis {
                        action: "recording a response in the rate limits".into(),
                    },
                    e,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_429_bodies_are_read_as_discord_sends_them() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-ratelimit-bucket", "abcd1234"),
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset-after", "0.347"),
            ("x-ratelimit-scope", "user"),
        ] {
            h.insert(k, hyper::header::HeaderValue::from_static(v));
        }
        let body = br#"{"message": "You are being rate limited.", "retry_after": 0.3465, "global": false}"#;
        let o = Observed::from_response(429, &h, body);
        assert_eq!(o.bucket, "abcd1234");
        assert_eq!((o.limit, o.remaining), (Some(5), Some(0)));
        assert_eq!(o.reset_after_ms, Some(347));
        assert_eq!(o.retry_after_ms, 347);
        assert!(!o.global);
        let global = Observed::from_response(
            429,
            &HeaderMap::new(),
            br#"{"message": "", "retry_after": 1.5, "global": true}"#,
        );
        assert!(global.global);
        assert_eq!(global.retry_after_ms, 1500);
        let ok = Observed::from_response(200, &HeaderMap::new(), b"{}");
        assert_eq!(ok.retry_after_ms, 0);
        assert_eq!(ok.limit, None);
    }
}
