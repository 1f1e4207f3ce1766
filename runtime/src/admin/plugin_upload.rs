//! The body of `POST /api/v1/plugins`: the component alone
//! (`Content-Type: application/wasm`), or `multipart/form-data` with the
//! component and the self-tests it must pass before it is kept.
//!
//! ```text
//! part         content                                  required
//! component    the .wasm bytes                          yes
//! config       JSON object: the stage configuration     no, {} by default
//!              the self-tests run with
//! self_tests   JSON array of {"message": "<ER7 text>",  no
//!              "expect": "forward" | "filter" | "reject" | "retry" | "skip"}
//! ```

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;

use super::error::ApiError;
use crate::plugin::self_test::SelfTest;

/// An upload, taken apart.
pub struct Upload {
    /// The component's bytes.
    pub component: Bytes,
    /// The configuration the self-tests run with, as JSON text.
    pub config_json: String,
    /// The self-tests, in order; none for a plain upload.
    pub self_tests: Vec<SelfTest>,
}

impl Upload {
    /// Reads the request's body, plain or multipart.
    ///
    /// # Errors
    /// 400 (or axum's status, such as 413) for a body that cannot be read,
    /// a missing `component` part, an unknown part, or JSON that does not
    /// parse.
    pub async fn read(request: Request) -> Result<Upload, ApiError> {
        let multipart = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("multipart/form-data"));
        if !multipart {
            let component = Bytes::from_request(request, &()).await?;
            return Ok(Upload {
                component,
                config_json: "{}".into(),
                self_tests: Vec::new(),
            });
        }
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        let mut component = None;
        let mut config_json = "{}".to_owned();
        let mut self_tests = Vec::new();
        while let Some(part) = form.next_field().await.map_err(part_error)? {
            let name = part.name().unwrap_or_default().to_owned();
            let bytes = part.bytes().await.map_err(part_error)?;
            match name.as_str() {
                "component" => component = Some(bytes),
                "config" => config_json = config(&bytes)?,
                "self_tests" => {
                    self_tests = serde_json::from_slice(&bytes).map_err(|error| {
                        ApiError::bad_request(format!("part self_tests: {error}"))
                    })?;
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown part {other:?}; the parts are component, config and self_tests"
                    )));
                }
            }
        }
        let component =
            component.ok_or_else(|| ApiError::bad_request("the component part is missing"))?;
        Ok(Upload {
            component,
            config_json,
            self_tests,
        })
    }
}

/// The `config` part, checked to be a JSON object.
fn config(bytes: &[u8]) -> Result<String, ApiError> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) if value.is_object() => Ok(value.to_string()),
        Ok(_) => Err(ApiError::bad_request("part config: not a JSON object")),
        Err(error) => Err(ApiError::bad_request(format!("part config: {error}"))),
    }
}

fn part_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::new(error.status(), "bad_request", error.body_text())
}
