//! OAuth 2.0 client credentials (RFC 6749 section 4.4) for an HTTP
//! destination, as cloud FHIR servers ask for: the connector fetches an
//! access token from `token_url`, sends it as `Authorization: Bearer`, keeps
//! it until shortly before it expires, and fetches a new one when the
//! server answers 401.
//!
//! The client authenticates with its secret (`basic` or `post`) or with a
//! JWT signed by its private key (`private_key_jwt`, SMART Backend
//! Services; see `client_assertion.rs`).
//!
//! A token request that fails (the endpoint down, the credentials refused)
//! makes the delivery attempt a retry whose reason says so; nothing of the
//! token endpoint's answer but its `error` code reaches the reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Url};
use serde::Deserialize;

use super::client_assertion::{ASSERTION_TYPE, AssertionSigner};
use super::{HttpTlsSettings, response, tls};
use crate::deliver::ConnectorError;

/// A token is renewed when less than this much of it is left, or a tenth
/// of its lifetime when that is shorter.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// How long a token without `expires_in` is kept (until a 401 ends it
/// sooner).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// The `oauth` table of an HTTP destination.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// The token endpoint, `https://` (or `http://` on loopback). Required.
    pub token_url: String,
    /// The client's id. Required.
    pub client_id: String,
    /// The client's secret, for `basic` and `post`; use `${ENV}` to keep it
    /// out of the file.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// PEM file with the client's private key, for `private_key_jwt`: RSA
    /// (signs RS384) or EC P-384 (ES384).
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// The `kid` of the signing key in the JWT header, for
    /// `private_key_jwt`, when the server holds several of the client's
    /// keys.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The `scope` asked for, space-separated, for example
    /// `system/*.write`.
    ///
    /// By default none is sent.
    #[serde(default)]
    pub scope: Option<String>,
    /// More form parameters for the token request, for example `resource`
    /// or `audience`.
    ///
    /// By default none.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// How the client authenticates: `basic` (HTTP basic authentication,
    /// `client_secret_basic`), `post` (in the form, `client_secret_post`) or
    /// `private_key_jwt` (a signed JWT, RFC 7523).
    ///
    /// By default `basic`, which RFC 6749 asks every server to support.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// PEM file with the CA certificates trusted to sign the token
    /// endpoint's certificate.
    ///
    /// By default the system's trust store is used.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP basic authentication with the form-encoded id and secret.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the request's form.
    Post,
    /// A JWT signed with `private_key_file` as `client_assertion`.
    PrivateKeyJwt,
}

// The secret stays out of logs that print a config with `{:?}`.
impl fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("private_key_file", &self.private_key_file)
            .field("key_id", &self.key_id)
            .field("scope", &self.scope)
            .field("parameters", &self.parameters.keys().collect::<Vec<_>>())
            .field("client_auth", &self.client_auth)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A token endpoint's answer (RFC 6749 section 5.1). Some servers send
/// `expires_in` as a string.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    expires_in: Option<serde_json::Value>,
}

/// Fetches and keeps the destination's access token.
#[derive(Debug)]
pub(super) struct Tokens {
    settings: OAuthSettings,
    token_url: Url,
    client: Client,
    timeout: Duration,
    credentials: Credentials,
    current: Option<(HeaderValue, Instant)>,
}

/// How the client proves who it is.
#[derive(Debug)]
enum Credentials {
    /// The secret, in a basic `Authorization` header or in the form.
    Secret(String, ClientAuth),
    /// A JWT signed with the client's key (boxed: an RSA key is large).
    Assertion(Box<AssertionSigner>),
}

impl Credentials {
    /// The credentials `settings` ask for.
    ///
    /// # Errors
    /// [`ConnectorError::OAuthCredentials`] when the key that goes with
    /// `client_auth` is missing, or both are given; the key file's errors.
    fn of(settings: &OAuthSettings) -> Result<Credentials, ConnectorError> {
        let secret = settings.client_secret.clone();
        match (settings.client_auth, secret, &settings.private_key_file) {
            (ClientAuth::PrivateKeyJwt, None, Some(key)) => Ok(Credentials::Assertion(Box::new(
                AssertionSigner::load(key, settings.key_id.clone())?,
            ))),
            (ClientAuth::PrivateKeyJwt, _, _) => Err(ConnectorError::OAuthCredentials(
                "client_auth = \"private_key_jwt\" takes private_key_file and no client_secret",
            )),
            (auth, Some(secret), None) => Ok(Credentials::Secret(secret, auth)),
            (_, _, _) => Err(ConnectorError::OAuthCredentials(
                "client_auth = \"basic\" or \"post\" takes client_secret and no private_key_file",
            )),
        }
    }
}

impl Tokens {
    /// Checks the settings and builds the token endpoint's client, whose
    /// requests take at most `timeout`.
    ///
    /// # Errors
    /// A [`ConnectorError`] naming `oauth.token_url`, or the TLS file at
    /// fault.
    pub(super) fn new(
        settings: &OAuthSettings,
        timeout: Duration,
    ) -> Result<Tokens, ConnectorError> {
        let invalid = |reason: String| ConnectorError::InvalidUrl {
            url: settings.token_url.clone(),
            reason: format!("oauth.token_url: {reason}"),
        };
        let token_url = Url::parse(&settings.token_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(token_url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be https (or http)".to_owned()));
        }
        let tls_settings = settings.ca_file.clone().map(|ca_file| HttpTlsSettings {
            ca_file: Some(ca_file),
            cert_file: None,
            key_file: None,
            min_version: Default::default(),
        });
        let client = Client::builder()
            .tls_backend_preconfigured(tls::client_config(&token_url, tls_settings.as_ref())?)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(ConnectorError::HttpClient)?;
        Ok(Tokens {
            settings: settings.clone(),
            token_url,
            client,
            timeout,
            credentials: Credentials::of(settings)?,
            current: None,
        })
    }

    /// The `Authorization` header: the kept token while it is fresh,
    /// otherwise a new one.
    ///
    /// # Errors
    /// Why no token could be had, for a retry's reason.
    pub(super) async fn authorization(&mut self) -> Result<HeaderValue, String> {
        if let Some((value, renew_at)) = &self.current
            && Instant::now() < *renew_at
        {
            return Ok(value.clone());
        }
        let (value, lifetime) = self.fetch().await?;
        let renew_at = Instant::now() + lifetime - RENEW_BEFORE.min(lifetime / 10);
        self.current = Some((value.clone(), renew_at));
        Ok(value)
    }

    /// Forgets the kept token (the server refused it).
    pub(super) fn forget(&mut self) {
        self.current = None;
    }

    /// The token request without its body, and its form: the grant, the
    /// scope, the extra parameters and the credentials that go in the form.
    ///
    /// # Errors
    /// When a client assertion cannot be signed.
    fn token_request(&self) -> Result<(reqwest::RequestBuilder, String), String> {
        let settings = &self.settings;
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(scope) = &settings.scope {
            form.append_pair("scope", scope);
        }
        for (name, value) in &settings.parameters {
            form.append_pair(name, value);
        }
        let mut request = self.client.post(self.token_url.clone());
        match &self.credentials {
            Credentials::Secret(secret, ClientAuth::Post) => {
                form.append_pair("client_id", &settings.client_id);
                form.append_pair("client_secret", secret);
            }
            Credentials::Secret(secret, _) => {
                let encode =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                request = request.basic_auth(encode(&settings.client_id), Some(encode(secret)));
            }
            Credentials::Assertion(signer) => {
                let assertion = signer.assertion(&settings.client_id, self.token_url.as_str())?;
                form.append_pair("client_assertion_type", ASSERTION_TYPE);
                form.append_pair("client_assertion", &assertion);
            }
        }
        Ok((request, form.finish()))
    }

    /// Asks the token endpoint for a token: the header and its lifetime.
    async fn fetch(&self) -> Result<(HeaderValue, Duration), String> {
        let (request, form) = self.token_request()?;
        let answer = request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|error| {
                let reason = response::describe(error, self.timeout);
                format!("the token endpoint cannot be reached: {reason}")
            })?;
        let status = answer.status();
        let body = answer.bytes().await.map_err(|error| {
            let reason = response::describe(error, self.timeout);
            format!("the token endpoint's answer broke off: {reason}")
        })?;
        if !status.is_success() {
            return Err(format!(
                "the token endpoint answered {status}{}",
                error_code(&body)
                    .map(|code| format!(" ({code})"))
                    .unwrap_or_default()
            ));
        }
        let token: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            "the token endpoint's answer is not a token (RFC 6749 section 5.1)".to_owned()
        })?;
        if !token.token_type.eq_ignore_ascii_case("bearer") {
            return Err(format!(
                "the token endpoint gave a {:?} token; only bearer tokens are supported",
                token.token_type
            ));
        }
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.access_token))
            .map_err(|_| "the token endpoint's token cannot be sent in a header".to_owned())?;
        value.set_sensitive(true);
        Ok((value, lifetime(token.expires_in.as_ref())))
    }
}

/// `expires_in` as a number or a numeric string; [`DEFAULT_LIFETIME`]
/// without one.
fn lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let seconds = match expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    seconds.map_or(DEFAULT_LIFETIME, Duration::from_secs)
}

/// The `error` code of a token endpoint's error answer (RFC 6749 section
/// 5.2), when it is a short code such as `invalid_client`.
fn error_code(body: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = answer.get("error")?.as_str()?;
    let plain = code.len() <= 64 && code.bytes().all(|b| b.is_ascii_graphic());
    plain.then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_come_as_numbers_or_strings() {
        let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(lifetime(Some(&value("3599"))), Duration::from_secs(3599));
        assert_eq!(
            lifetime(Some(&value("\"3599\""))),
            Duration::from_secs(3599)
        );
        assert_eq!(lifetime(Some(&value("null"))), DEFAULT_LIFETIME);
        assert_eq!(lifetime(None), DEFAULT_LIFETIME);
    }

    #[test]
    fn only_short_error_codes_are_kept() {
        assert_eq!(
            error_code(br#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#),
            Some("invalid_client".to_owned())
        );
        assert_eq!(error_code(br#"{"error":"has spaces in it"}"#), None);
        assert_eq!(error_code(b"<html>"), None);
    }
}
