//! The admin API client shared by `dlq`, `plugins`, `channels` and
//! `messages`: where the API is, the token, and JSON requests whose errors
//! say what to do next.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use hl7wasm::tls::{TlsClientSettings, TlsVersion};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, RequestBuilder, Url};
use serde_json::{Map, Value};

use super::client::tls_or_plain;

/// Where the admin API is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The admin API's base URL.
    #[arg(
        long = "api",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// A bearer token from the `[admin]` section.
    #[arg(long, env = "HL7WASM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// For an https:// API, trust the CA certificates in this PEM file.
    #[arg(long = "tls-ca", value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// For an https:// API under mTLS, present the client certificate in
    /// this PEM file (its role comes from `[admin] client_roles` when no
    /// token is sent); needs --key and --tls-ca.
    #[arg(long = "cert", value_name = "FILE", requires_all = ["key", "ca_file"])]
    cert: Option<PathBuf>,
    /// The private key of --cert.
    #[arg(long = "key", value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
}

/// A client of one admin API.
pub struct Api {
    client: Client,
    base: Url,
    token: Option<String>,
}

impl Api {
    /// Prepares requests to the API `args` names.
    ///
    /// # Errors
    /// When the URL is not http(s) or the CA file is unusable.
    pub fn new(args: &ApiArgs) -> anyhow::Result<Api> {
        let base =
            Url::parse(&args.url).with_context(|| format!("--api {:?} is not a URL", args.url))?;
        anyhow::ensure!(
            matches!(base.scheme(), "http" | "https"),
            "--api {:?} must start with http:// or https://",
            args.url
        );
        let client = Client::builder()
            .tls_backend_preconfigured(tls_config(args)?)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Api {
            client,
            base,
            token: args.token.clone(),
        })
    }

    /// `GET path?query` as JSON; `query`'s fields become parameters.
    ///
    /// # Errors
    /// As for [`Api::send`].
    pub async fn get(&self, path: &str, query: &Map<String, Value>) -> anyhow::Result<Value> {
        let mut url = self.url(path)?;
        for (key, value) in query {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            url.query_pairs_mut().append_pair(key, &text);
        }
        self.send(self.request(reqwest::Method::GET, url)).await
    }

    /// `POST path` with `body` as JSON.
    ///
    /// # Errors
    /// As for [`Api::send`].
    pub async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        Ok(self.post_json_answer(path, body).await?.0)
    }

    /// [`Api::post_json`], with the answer's headers.
    ///
    /// # Errors
    /// As for [`Api::send`].
    pub async fn post_json_answer(
        &self,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(Value, HeaderMap)> {
        let request = self
            .request(reqwest::Method::POST, self.url(path)?)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send_answer(request).await
    }

    /// `DELETE path`.
    ///
    /// # Errors
    /// As for [`Api::send`].
    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.request(reqwest::Method::DELETE, self.url(path)?))
            .await
    }

    /// `POST path` with `bytes` of `content_type`.
    ///
    /// # Errors
    /// As for [`Api::send`].
    pub async fn post_bytes(
        &self,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let request = self
            .request(reqwest::Method::POST, self.url(path)?)
            .header(CONTENT_TYPE, content_type)
            .body(bytes);
        self.send(request).await
    }

    fn url(&self, path: &str) -> anyhow::Result<Url> {
        self.base
            .join(path)
            .with_context(|| format!("bad API path {path:?}"))
    }

    fn request(&self, method: reqwest::Method, url: Url) -> RequestBuilder {
        let request = self.client.request(method, url);
        match &self.token {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    /// Sends `request` and reads the JSON answer.
    ///
    /// # Errors
    /// When the API cannot be reached, or answers with an error (its code
    /// and message, with a hint for 401 and 403).
    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        Ok(self.send_answer(request).await?.0)
    }

    /// [`Api::send`], with the answer's headers.
    async fn send_answer(&self, request: RequestBuilder) -> anyhow::Result<(Value, HeaderMap)> {
        let response = request.send().await.with_context(|| {
            format!("cannot reach the admin API at {}; is the engine running with an [admin] section? (--api URL)", self.base)
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .context("the admin API's answer was cut off")?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok((body, headers));
        }
        let message = body["message"].as_str().unwrap_or("no details");
        let hint = match status.as_u16() {
            401 => " (pass --token or set HL7WASM_TOKEN, or --cert and --key under mTLS)",
            403 => " (ask for a token with a higher role)",
            _ => "",
        };
        anyhow::bail!("the admin API answered {status}: {message}{hint}")
    }
}

/// rustls for the client: the `--tls-ca` roots and the `--cert` client
/// certificate, or none for plain http (reqwest needs a configuration
/// either way).
fn tls_config(args: &ApiArgs) -> anyhow::Result<rustls::ClientConfig> {
    let settings = args.ca_file.as_ref().map(|ca_file| TlsClientSettings {
        ca_file: ca_file.clone(),
        cert_file: args.cert.clone(),
        key_file: args.key.clone(),
        server_name: None,
        min_version: TlsVersion::default(),
    });
    Ok(Arc::unwrap_or_clone(tls_or_plain(settings.as_ref())?))
}

/// Refuses a bulk action whose filter is empty unless `all` was given, so
/// that a forgotten option does not act on everything; `everything` says
/// what that would be, `options` which filters there are.
///
/// # Errors
/// When the filter is empty and `all` is not set.
pub fn ensure_filtered(
    filter: &Map<String, Value>,
    all: bool,
    everything: &str,
    options: &str,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        all || !filter.is_empty(),
        "this would {everything}: give a filter ({options}, ...) or --all"
    );
    Ok(())
}

/// The given options as JSON fields (filters and queries): only those set.
pub fn fields(
    texts: &[(&str, &Option<String>)],
    numbers: &[(&str, Option<u64>)],
) -> Map<String, Value> {
    let texts = texts
        .iter()
        .filter_map(|(key, value)| Some((key.to_string(), Value::from(value.as_ref()?.clone()))));
    let numbers = numbers
        .iter()
        .filter_map(|(key, value)| Some((key.to_string(), Value::from((*value)?))));
    texts.chain(numbers).collect()
}

/// Prints a JSON answer, indented.
pub fn print(value: &Value) {
    say!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values print")
    );
}

/// A current-thread runtime for one command's requests.
///
/// # Errors
/// When the runtime cannot start.
pub fn block_on<T>(
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}
