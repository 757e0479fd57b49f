//! Sending a twilight-http request over HTTP/1.1 (hyper, rustls with the webpki roots), with
//! every answer returned whole: status, headers and body, 429s included. twilight-http's own
//! client retries a 429 at once, with no wait, when its in-process limiter is off
//! (`twilight-http` 0.18, its `response::future` module), so the shared limiter sends through this
//! instead and decides itself when to retry.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{HeaderMap, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::error::{RestError, RestErrorKind};

/// `User-Agent` of every request, as Discord asks
/// (<https://discord.com/developers/docs/reference#user-agent>).
const AGENT: &str = concat!(
    "DiscordBot (https://github.com/ddiscord/ddiscord, ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// An HTTP client for one base URL.
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `https://discord.com/api/v10` or the simulator's `http://host:port/api/v10`.
    base: String,
    authorization: HeaderValue,
}

/// One answer.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Transport {
    /// A client for `base` (`None`: `https://discord.com`) sending `Authorization: Bot
    /// {token}`.
    pub(crate) fn new(base: Option<&str>, token: &str) -> Result<Self, RestError> {
        let invalid = |message: &str| {
            RestError::new(RestErrorKind::InvalidRequest {
                message: message.to_owned(),
            })
        };
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        let mut authorization = HeaderValue::from_str(&format!("Bot {token}"))
            .map_err(|_| invalid("the token is not a valid header value"))?;
        authorization.set_sensitive(true);
        let base = base.unwrap_or("https://discord.com").trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(invalid(
                "the REST base URL must start with http:// or https://",
            ));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| {
                RestError::with_source(
                    RestErrorKind::InvalidRequest {
                        message: "the TLS configuration could not be built".into(),
                    },
                    e,
                )
            })?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: format!("{base}/api/v10"),
            authorization,
        })
    }

    /// Sends `request` and reads the whole answer.
    pub(crate) async fn send(
        &self,
        request: &twilight_http::request::Request,
    ) -> Result<Answer, RestError> {
        let url = format!("{}/{}", self.base, request.path());
        let mut builder = Request::builder()
            .method(request.method().name())
            .uri(&url)
            .header(USER_AGENT, AGENT);
        if request.use_authorization_token() {
            builder = builder.header(AUTHORIZATION, self.authorization.clone());
        }
        let body = match (request.form(), request.body()) {
            (Some(form), _) => {
                if let Ok(v) = HeaderValue::try_from(form.content_type()) {
                    builder = builder.header(CONTENT_TYPE, v);
                }
                Bytes::from(form.clone().build())
            }
            (None, Some(body)) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Bytes::copy_from_slice(body)
            }
            (None, None) => Bytes::new(),
        };
        builder = builder.header(CONTENT_LENGTH, body.len());
        if let Some(headers) = request.headers() {
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
        }
        let http = builder.body(Full::new(body)).map_err(|e| {
            RestError::with_source(
                RestErrorKind::InvalidRequest {
                    message: format!(
                        "{} {url} is not a valid HTTP request",
                        request.method().name()
                    ),
                },
                e,
            )
        })?;
        let transport = |action: &str, e: Box<dyn std::error::Error + Send + Sync>| {
            RestError::with_source(
                RestErrorKind::Transport {
                    action: action.to_owned(),
                },
                e,
            )
        };
        let response = self
            .client
            .request(http)
            .await
            .map_err(|e| transport("sending the request", Box::new(e)))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport("reading the response", Box::new(e)))?
            .to_bytes();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}
