//! REST rate limits as Discord applies them
//! (<https://discord.com/developers/docs/topics/rate-limits>): every route has a bucket per
//! major parameter (channel, guild, webhook) allowing [`RestLimitConfig::route_limit`]
//! requests per window that starts at the first request after the previous one ended, and a
//! bot may make [`RestLimitConfig::global_per_sec`] requests per second over all routes
//! (interaction routes are exempt). A request over a limit gets `429` with
//! `{message, retry_after, global}`, `Retry-After` and `X-RateLimit-Scope`; every answer of a
//! limited route carries `X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`
//! (<https://discord.com/developers/docs/topics/rate-limits#header-format>).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

/// The REST rate limits a simulator applies (`--rest-limits`, `--rest-route-limit`,
/// `--rest-route-window-ms`, `--rest-global-limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestLimitConfig {
    /// Whether the limits apply; when off every answer still carries the headers, with a
    /// bucket of [`UNLIMITED`] requests that never runs out.
    pub enabled: bool,
    /// Requests per window of one route's bucket (per major parameter).
    pub route_limit: u32,
    /// Length of a route bucket's window, in ms (Discord's `X-RateLimit-Reset-After`, at the
    /// window's first request).
    pub route_window_ms: u64,
    /// Requests per second of one bot over every route but the interaction routes (Discord:
    /// 50).
    pub global_per_sec: u32,
}

impl Default for RestLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            route_limit: 5,
            route_window_ms: 1000,
            global_per_sec: 50,
        }
    }
}

/// The bucket size the headers announce when the limits are off.
pub const UNLIMITED: u32 = 1_000_000;

/// What the REST side served, at `GET /control/rest`: tests check that a shared limiter kept
/// every process inside the limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RestCounts {
    /// Requests answered by a route (any status but 429).
    pub served: u64,
    /// Requests refused with 429 by a route bucket.
    pub limited_route: u64,
    /// Requests refused with 429 by the global limit.
    pub limited_global: u64,
    /// Requests answered 401, 403 or 429 (Discord's invalid requests, which Cloudflare limits
    /// to 10,000 per 10 minutes).
    pub invalid: u64,
}

/// One route bucket's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    used: u32,
}

/// The limiter state of one simulator.
#[derive(Debug)]
pub(crate) struct RestLimits {
    cfg: RestLimitConfig,
    buckets: HashMap<(&'static str, u64), Window>,
    /// Global token bucket: tokens left and when they were counted.
    global_tokens: f64,
    global_at: Instant,
    pub(crate) counts: RestCounts,
}

/// Which bucket a request falls in: the route's bucket name and its major parameter (0 for
/// none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteKey {
    pub bucket: &'static str,
    pub major: u64,
    /// Whether the global limit applies (not for interaction routes).
    pub global: bool,
}

/// The outcome of admitting a request: the headers to send, or the 429 to answer with.
pub(crate) type Admission = Result<HeaderMap, Response>;

impl RestLimits {
    pub(crate) fn new(cfg: RestLimitConfig) -> Self {
        Self {
            cfg,
            buckets: HashMap::new(),
            global_tokens: f64::from(cfg.global_per_sec),
            global_at: Instant::now(),
            counts: RestCounts::default(),
        }
    }

    /// Admits one request of `key` at `now`: counts it against its bucket and the global limit
    /// and returns the rate-limit headers, or the 429 Discord answers.
    pub(crate) fn admit(&mut self, key: RouteKey, now: Instant) -> Admission {
        let window = Duration::from_millis(self.cfg.route_window_ms);
        let limit = self.cfg.route_limit.max(1);
        if !self.cfg.enabled {
            self.counts.served += 1;
            return Ok(headers(key.bucket, UNLIMITED, UNLIMITED - 1, window));
        }
        if key.global {
            let per_sec = f64::from(self.cfg.global_per_sec.max(1));
            let elapsed = now.saturating_duration_since(self.global_at).as_secs_f64();
            self.global_tokens = (self.global_tokens + elapsed * per_sec).min(per_sec);
            self.global_at = now;
            if self.global_tokens < 1.0 {
                let retry = (1.0 - self.global_tokens) / per_sec;
                self.counts.limited_global += 1;
                self.counts.invalid += 1;
                return Err(too_many(None, retry, true));
            }
        }
        let w = self
            .buckets
            .entry((key.bucket, key.major))
            .or_insert(Window {
                start: now,
                used: 0,
            });
        if now.saturating_duration_since(w.start) >= window {
            *w = Window {
                start: now,
                used: 0,
            };
        }
        let reset_after = window.saturating_sub(now.saturating_duration_since(w.start));
        if w.used >= limit {
            self.counts.limited_route += 1;
            self.counts.invalid += 1;
            let h = headers(key.bucket, limit, 0, reset_after);
            return Err(too_many(Some(h), reset_after.as_secs_f64(), false));
        }
        w.used += 1;
        if key.global {
            self.global_tokens -= 1.0;
        }
        self.counts.served += 1;
        Ok(headers(key.bucket, limit, limit - w.used, reset_after))
    }
}

/// Discord's opaque bucket hash for a route's bucket name (stable per name).
fn bucket_hash(bucket: &str) -> String {
    // FNV-1a: a stable, opaque 64-bit id per route, as Discord's hashes look opaque.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bucket.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `X-RateLimit-*` headers of a bucket with `remaining` of `limit` left, resetting in
/// `reset_after`.
pub(crate) fn headers(
    bucket: &str,
    limit: u32,
    remaining: u32,
    reset_after: Duration,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| (d + reset_after).as_secs_f64());
    let values = [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", format!("{reset:.3}")),
        (
            "x-ratelimit-reset-after",
            format!("{:.3}", reset_after.as_secs_f64()),
        ),
        ("x-ratelimit-bucket", bucket_hash(bucket)),
    ];
    for (name, value) in values {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    h
}

/// Discord's 429: `{message, retry_after, global}` with `Retry-After` (whole seconds, rounded
/// up) and `X-RateLimit-Scope` (`global` or `user`), plus the bucket's headers for a route
/// limit (`X-RateLimit-Global: true` for the global one).
fn too_many(bucket_headers: Option<HeaderMap>, retry_after: f64, global: bool) -> Response {
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": (retry_after * 1000.0).ceil() / 1000.0,
        "global": global,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let h = response.headers_mut();
    if let Some(bucket) = bucket_headers {
        h.extend(bucket);
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let secs = retry_after.ceil().max(1.0) as u64;
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        h.insert("retry-after", v);
    }
    let scope = if global { "global" } else { "user" };
    h.insert("x-ratelimit-scope", HeaderValue::from_static(scope));
    if global {
        h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(global: bool) -> RouteKey {
        RouteKey {
            bucket: "b",
            major: 1,
            global,
        }
    }

    #[test]
    fn a_route_bucket_refuses_past_its_limit_until_the_window_ends() {
        let mut l = RestLimits::new(RestLimitConfig {
            route_limit: 2,
            ..RestLimitConfig::default()
        });
        let t = Instant::now();
        assert!(l.admit(key(true), t).is_ok());
        assert!(l.admit(key(true), t).is_ok());
        assert!(l.admit(key(true), t).is_err());
        assert!(l.admit(key(true), t + Duration::from_millis(1000)).is_ok());
        assert_eq!(l.counts.served, 3);
        assert_eq!(l.counts.limited_route, 1);
    }

    #[test]
    fn the_global_limit_spans_buckets_and_spares_interactions() {
        let mut l = RestLimits::new(RestLimitConfig {
            route_limit: 1000,
            global_per_sec: 3,
            ..RestLimitConfig::default()
        });
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.admit(key(true), t).is_ok());
        }
        assert!(l.admit(key(true), t).is_err());
        assert!(l.admit(key(false), t).is_ok());
        assert_eq!(l.counts.limited_global, 1);
    }

    #[test]
    fn limits_off_serve_everything() {
        let mut l = RestLimits::new(RestLimitConfig {
            enabled: false,
            route_limit: 1,
            ..RestLimitConfig::default()
        });
        let t = Instant::now();
        for _ in 0..100 {
            assert!(l.admit(key(true), t).is_ok());
        }
    }
}
