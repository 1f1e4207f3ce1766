//! A client of the admin API for end-to-end tests, over real HTTP.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use crate::engine::TestEngine;

/// A client of one engine's admin API.
pub struct Api {
    client: reqwest::Client,
    /// `http://<admin address>`.
    pub base: String,
}

impl Api {
    /// A client of the admin API of an in-process engine.
    pub fn of(engine: &TestEngine) -> Api {
        Api::at(engine.server.admin_address().expect("the admin API runs"))
    }

    /// A client of the admin API listening on `address`. It does not follow
    /// redirects, so tests see them.
    pub fn at(address: std::net::SocketAddr) -> Api {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Api {
            client,
            base: format!("http://{address}"),
        }
    }

    /// `GET path` without a token, the answer as it comes.
    pub async fn raw(&self, path: &str) -> reqwest::Response {
        self.raw_with(reqwest::Method::GET, path, &[]).await
    }

    /// `method path` with these headers (a browser's, say), the answer as
    /// it comes.
    pub async fn raw_with(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, Vec<u8>) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await.expect("the admin API answers");
        let status = response.status();
        (status, response.bytes().await.unwrap().to_vec())
    }

    /// Uploads a component as `POST /api/v1/plugins`; the status and the
    /// raw answer.
    pub async fn upload(&self, token: &str, component: Vec<u8>) -> (StatusCode, Vec<u8>) {
        self.call(
            reqwest::Method::POST,
            "/api/v1/plugins",
            Some(token),
            Some(("application/wasm", component)),
        )
        .await
    }

    /// GET as JSON.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let (status, body) = self.call(reqwest::Method::GET, path, token, None).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// POST JSON, answer as JSON.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let bytes = body.to_string().into_bytes();
        let (status, answer) = self
            .call(
                reqwest::Method::POST,
                path,
                Some(token),
                Some(("application/json", bytes)),
            )
            .await;
        (
            status,
            serde_json::from_slice(&answer).unwrap_or(Value::Null),
        )
    }

    /// POST JSON, the answer as it comes (for its headers).
    pub async fn post_raw(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// GET as JSON, which must be 200.
    pub async fn ok(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.get(path, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }
}
