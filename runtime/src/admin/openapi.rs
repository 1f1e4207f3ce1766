//! `GET /api/v1/openapi.json`: the OpenAPI 3 description of the admin API,
//! written by hand next to this file (`openapi.json`); a test checks that
//! it names every route.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The OpenAPI document.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json` (no authentication).
pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}
