//! HTTP destinations: [`HttpTargetConfig`] and [`HttpConnector`], which sends a message
//! as the body of one request, such as a FHIR transaction Bundle POSTed to a FHIR base
//! URL.
//!
//! The client is reqwest over rustls with the ring provider, HTTP/1.1, with a pool of
//! kept connections. Redirects are not followed: a POST that a 301 or 302 turns into a
//! GET would lose the message, so a 3xx is a rejection that says to fix the URL. Proxies
//! come from `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`. How a response is classified
//! lives in `response.rs`.

mod client_assertion;
mod oauth;
mod response;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, Response, StatusCode, Url};
use serde::Deserialize;

use super::{Attempt, ConnectorError, Delivery};
use crate::tls::TlsVersion;
use oauth::Tokens;
pub use oauth::{ClientAuth, OAuthSettings};

/// An HTTP destination: where and how to send.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTargetConfig {
    /// The URL the message is sent to, `http://` or `https://`. Required.
    pub url: String,
    /// The request method.
    ///
    /// By default this is "POST".
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra request headers. A `Content-Type` here replaces the message's content type.
    ///
    /// By default none are added.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A token sent as `Authorization: Bearer <token>`.
    ///
    /// By default no token is sent.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// A user name and password sent as HTTP basic authentication.
    ///
    /// By default none are sent.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// OAuth 2.0 client credentials: a token fetched from `oauth.token_url`
    /// is sent as `Authorization: Bearer` and renewed before it expires (see
    /// `oauth.rs`).
    ///
    /// By default no token is fetched.
    /// (Boxed: it is large, and most destinations have none.)
    #[serde(default)]
    pub oauth: Option<Box<OAuthSettings>>,
    /// TLS settings for an `https://` URL: the CA to trust and a client certificate.
    ///
    /// By default the system's trust store is used and no client certificate is sent.
    #[serde(default)]
    pub tls: Option<HttpTlsSettings>,
    /// How long one request may take, from connecting to the end of the response, in
    /// seconds; a request that takes longer is retried.
    ///
    /// By default this is 30 seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_method() -> String {
    "POST".to_owned()
}

fn default_timeout_secs() -> u64 {
    30
}

/// HTTP basic authentication credentials.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name. Required.
    pub username: String,
    /// The password. Required.
    pub password: String,
}

/// TLS settings of an HTTPS destination.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTlsSettings {
    /// PEM file with the CA certificates trusted to sign the server's certificate.
    ///
    /// By default the system's trust store is used.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM file with the client certificate for mTLS; needs `key_file`.
    ///
    /// By default no client certificate is presented.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM file with the client's private key; needs `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The lowest TLS version used: "1.2" or "1.3".
    ///
    /// By default this is "1.2".
    #[serde(default)]
    pub min_version: TlsVersion,
}

// Secrets stay out of logs that print a config with `{:?}`.
impl fmt::Debug for HttpTargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTargetConfig")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("basic_auth", &self.basic_auth)
            .field("oauth", &self.oauth)
            .field("tls", &self.tls)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Delivers to one HTTP endpoint.
#[derive(Debug)]
pub struct HttpConnector {
    client: Client,
    url: Url,
    method: Method,
    /// The configured headers and `Authorization`, all marked sensitive.
    headers: HeaderMap,
    /// The OAuth tokens, when `oauth` is set.
    tokens: Option<Box<Tokens>>,
    timeout: Duration,
}

impl HttpConnector {
    /// Checks the URL, method, headers and credentials, reads the TLS files and builds
    /// the client; connects later.
    ///
    /// # Errors
    ///
    /// A [`ConnectorError`] naming the setting at fault.
    pub fn new(config: &HttpTargetConfig) -> Result<HttpConnector, ConnectorError> {
        let invalid_url = |reason: String| ConnectorError::InvalidUrl {
            url: config.url.clone(),
            reason,
        };
        let url = Url::parse(&config.url).map_err(|error| invalid_url(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid_url("the scheme must be http or https".to_owned()));
        }
        let method = Method::from_bytes(config.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| ConnectorError::InvalidMethod(config.method.clone()))?;
        if config.timeout_secs == 0 {
            return Err(ConnectorError::ZeroTimeout("timeout_secs"));
        }
        let timeout = Duration::from_secs(config.timeout_secs);
        let client = Client::builder()
            .tls_backend_preconfigured(tls::client_config(&url, config.tls.as_ref())?)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(ConnectorError::HttpClient)?;
        let mut headers = configured_headers(&config.headers)?;
        if let Some(value) = authorization(&client, &url, config)? {
            headers.insert(AUTHORIZATION, value);
        }
        let tokens = config
            .oauth
            .as_ref()
            .map(|oauth| Tokens::new(oauth, timeout).map(Box::new))
            .transpose()?;
        Ok(HttpConnector {
            client,
            url,
            method,
            headers,
            tokens,
            timeout,
        })
    }

    /// Sends the body with the delivery's content type and classifies the response:
    /// 2xx delivered; 408, 429, 5xx, timeouts and connection errors retry (with the
    /// `Retry-After` delay); any other status rejects. With OAuth, a 401 is
    /// answered by sending once more with a new token, and a token that cannot
    /// be had makes the attempt a retry.
    pub async fn deliver(&mut self, delivery: &Delivery<'_>) -> Attempt {
        let answer = match self.send(delivery).await {
            Ok(answer) if answer.status() == StatusCode::UNAUTHORIZED && self.tokens.is_some() => {
                if let Some(tokens) = &mut self.tokens {
                    tokens.forget();
                }
                self.send(delivery).await
            }
            sent => sent,
        };
        match answer {
            Ok(answer) => {
                let status = answer.status();
                tracing::debug!(
                    channel = delivery.channel,
                    destination = delivery.destination,
                    control_id = delivery.control_id,
                    status = status.as_u16(),
                    "HTTP destination answered."
                );
                response::classify(answer).await
            }
            Err(attempt) => attempt,
        }
    }

    /// Sends one request for `delivery`, with a token when OAuth is set.
    async fn send(&mut self, delivery: &Delivery<'_>) -> Result<Response, Attempt> {
        let mut request = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone());
        if let Some(tokens) = &mut self.tokens {
            // Without a token the destination cannot be reached.
            let token = tokens.authorization().await.map_err(Attempt::unreachable)?;
            request = request.header(AUTHORIZATION, token);
        }
        if !self.headers.contains_key(CONTENT_TYPE) {
            request = request.header(CONTENT_TYPE, delivery.content_type);
        }
        match request.body(delivery.body.to_vec()).send().await {
            Ok(answer) => Ok(answer),
            Err(error) if error.is_builder() => Err(Attempt::reject(format!(
                "the request cannot be sent: {error}"
            ))),
            Err(error) if error.is_connect() => Err(Attempt::unreachable(response::describe(
                error,
                self.timeout,
            ))),
            Err(error) => Err(Attempt::retry(response::describe(error, self.timeout))),
        }
    }
}

/// The configured headers, checked and marked sensitive (they may hold API keys).
fn configured_headers(configured: &BTreeMap<String, String>) -> Result<HeaderMap, ConnectorError> {
    let mut headers = HeaderMap::new();
    for (name, value) in configured {
        let invalid = || ConnectorError::InvalidHeader(name.clone());
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let mut header_value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        header_value.set_sensitive(true);
        headers.insert(header_name, header_value);
    }
    Ok(headers)
}

/// The `Authorization` header for `bearer_token` or `basic_auth`, encoded by reqwest
/// (an `oauth` token is fetched when sending).
///
/// # Errors
/// [`ConnectorError::ConflictingAuth`] for more than one of the three, and
/// [`ConnectorError::InvalidCredentials`].
fn authorization(
    client: &Client,
    url: &Url,
    config: &HttpTargetConfig,
) -> Result<Option<HeaderValue>, ConnectorError> {
    let given = [
        config.bearer_token.is_some(),
        config.basic_auth.is_some(),
        config.oauth.is_some(),
    ];
    if given.into_iter().filter(|&set| set).count() > 1 {
        return Err(ConnectorError::ConflictingAuth);
    }
    let request = client.get(url.clone());
    let request = if let Some(token) = &config.bearer_token {
        request.bearer_auth(token)
    } else if let Some(basic) = &config.basic_auth {
        request.basic_auth(&basic.username, Some(&basic.password))
    } else {
        return Ok(None);
    };
    let request = request
        .build()
        .map_err(|_| ConnectorError::InvalidCredentials)?;
    Ok(request.headers().get(AUTHORIZATION).cloned())
}
