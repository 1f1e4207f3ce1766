//! The admin API's routes: which handler answers which method and path.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{delete, get, post};

use super::control;
use super::error::ApiError;
use super::state::AdminState;
use super::{
    activate, alerts, browser_guard, channels, config_reload, config_view, dashboard, dead_letters,
    health, messages, openapi, plugins, queues, tls,
};

/// Every route: `/api/v1/...`, `/metrics` and the dashboard, behind the
/// browser guard; unknown paths get a JSON 404 and unknown methods a JSON
/// 405.
pub fn router(state: Arc<AdminState>) -> Router {
    let api = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/openapi.json", get(openapi::document))
        .route("/channels", get(channels::list))
        .route("/channels/{name}", get(channels::show))
        .route("/channels/{name}/queues", get(queues::show))
        .route("/channels/{name}/stop", post(control::stop))
        .route("/channels/{name}/start", post(control::start))
        .route("/channels/{name}/pause", post(control::pause))
        .route("/channels/{name}/resume", post(control::resume))
        .route(
            "/channels/{name}/stages/{stage}/activate",
            post(activate::activate),
        )
        .route(
            "/channels/{name}/stages/{stage}/rollback",
            post(activate::rollback),
        )
        .route("/messages", get(messages::search))
        .route("/messages/search", post(messages::search_posted))
        .route("/messages/reprocess", post(messages::reprocess))
        .route("/messages/{id}", get(messages::show))
        .route("/messages/{id}/body", get(messages::body))
        .route("/dead-letters", get(dead_letters::list))
        .route("/dead-letters/{sequence}", get(dead_letters::show))
        .route("/dead-letters/reprocess", post(dead_letters::reprocess))
        .route("/dead-letters/purge", post(dead_letters::purge))
        .route(
            "/plugins",
            get(plugins::list)
                .post(plugins::upload)
                .layer(DefaultBodyLimit::max(plugins::MAX_UPLOAD_BYTES)),
        )
        .route("/plugins/{sha256}", delete(plugins::delete))
        .route("/alerts", get(alerts::list))
        .route("/tls", get(tls::list))
        .route("/tls/reload", post(tls::reload))
        .route("/config", get(config_view::show))
        .route("/config/reload", post(config_reload::reload));
    Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(health::metrics))
        .merge(dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            browser_guard::guard,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("this path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take this method; see /api/v1/openapi.json",
    )
}
