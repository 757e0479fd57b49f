//! `GET /gateway/bot`: the recommended shard count and the IDENTIFY budget.
//!
//! Source: <https://discord.com/developers/docs/events/gateway#get-gateway-bot>.

use std::time::Duration;

use crate::error::{IngestError, IngestErrorKind};

/// What `GET /gateway/bot` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayInfo {
    /// Recommended shard count.
    pub shards: u32,
    /// `session_start_limit.total`: IDENTIFYs allowed per reset period.
    pub total: u64,
    /// `session_start_limit.remaining`.
    pub remaining: u64,
    /// `session_start_limit.reset_after`, in ms.
    pub reset_after_ms: u64,
    /// `session_start_limit.max_concurrency`: IDENTIFY buckets (`shard_id % max_concurrency`),
    /// each allowing one IDENTIFY per 5 s.
    pub max_concurrency: u32,
}

/// Asks Discord, or the simulator when `gateway_url` (a `ws://host:port` proxy URL) is set; the
/// simulator serves the same endpoint over plain HTTP on the same port.
///
/// # Errors
/// [`IngestErrorKind::GatewayInfo`] with twilight-http's error as the source.
pub async fn fetch(token: &str, gateway_url: Option<&str>) -> Result<GatewayInfo, IngestError> {
    let mut builder = twilight_http::Client::builder()
        .token(token.to_owned())
        .timeout(Duration::from_secs(10));
    if let Some(url) = gateway_url {
        let (http, host) = proxy_host(url);
        builder = builder.proxy(host, http);
    }
    let client = builder.build();
    let err = |e: Box<dyn std::error::Error + Send + Sync>| {
        IngestError::with_source(IngestErrorKind::GatewayInfo, e)
    };
    let info = client
        .gateway()
        .authed()
        .await
        .map_err(|e| err(Box::new(e)))?
        .model()
        .await
        .map_err(|e| err(Box::new(e)))?;
    let limit = info.session_start_limit;
    Ok(GatewayInfo {
        shards: info.shards,
        total: u64::from(limit.total),
        remaining: u64::from(limit.remaining),
        reset_after_ms: limit.reset_after,
        max_concurrency: u32::from(limit.max_concurrency).max(1),
    })
}

/// `ws://host:port/...` → (plain HTTP, `host:port`); `wss://` → TLS.
fn proxy_host(url: &str) -> (bool, String) {
    let (http, rest) = if let Some(r) = url.strip_prefix("ws://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("wss://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (false, r)
    } else {
        (true, url)
    };
    let host = rest.split(['/', '?']).next().unwrap_or(rest).to_owned();
    (http, host)
}

#[cfg(test)]
mod tests {
    use super::proxy_host;

    #[test]
    fn proxy_hosts() {
        assert_eq!(
            proxy_host("ws://127.0.0.1:5000"),
            (true, "127.0.0.1:5000".to_owned())
        );
        assert_eq!(
            proxy_host("wss://gw.example/?v=10"),
            (false, "gw.example".to_owned())
        );
    }
}
