//! Liveness, readiness and the Prometheus metrics.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;

/// `GET /api/v1/health`: the API answers (no authentication).
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /api/v1/ready`: 200 once every channel listens, 503 before and
/// while shutting down (no authentication).
///
/// # Errors
/// 503 `not_ready`.
pub async fn ready(State(state): State<Arc<AdminState>>) -> Result<Json<Value>, ApiError> {
    if !state.is_ready() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the engine is starting or shutting down",
        ));
    }
    Ok(Json(json!({ "status": "ready" })))
}

/// `GET /metrics`: the Prometheus text exposition; any role. Labels are
/// channel, destination, code and reason names only.
pub async fn metrics(_caller: Caller, State(state): State<Arc<AdminState>>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}
