//! `/api/v1/plugins`: the loaded plugin versions, and uploading a new one.
//! Uploading only loads a version and keeps it; which version a channel
//! runs is its configuration's choice.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Serialize;

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::plugin::{PluginRegistry, PluginVersion, content_hash};

/// The largest upload accepted, in bytes (64 MiB).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// One loaded plugin version.
#[derive(Debug, Serialize)]
pub struct PluginView {
    /// The name from `info()`.
    pub name: String,
    /// The version from `info()`.
    pub version: String,
    /// The component's SHA-256, hex.
    pub sha256: String,
    /// Who ships it.
    pub vendor: String,
    /// What it does.
    pub description: String,
    /// The message types it accepts.
    pub message_types: Vec<String>,
}

impl PluginView {
    /// The view of `version`.
    pub fn of(version: &PluginVersion) -> Self {
        let info = &version.info;
        PluginView {
            name: info.name.clone(),
            version: info.version.clone(),
            sha256: version.sha256.clone(),
            vendor: info.vendor.clone(),
            description: info.description.clone(),
            message_types: info.message_types.clone(),
        }
    }
}

/// `GET /api/v1/plugins`: every loaded version, by name then load order;
/// empty when no channel has a pipeline (the registry is not running).
pub async fn list(_caller: Caller, State(state): State<Arc<AdminState>>) -> Json<Vec<PluginView>> {
    let versions = state.registry.as_ref().map(|r| r.all()).unwrap_or_default();
    Json(versions.iter().map(|v| PluginView::of(v)).collect())
}

/// `POST /api/v1/plugins`: loads the component in the request body and
/// keeps it in the plugin directory; admin role, audited. 201 for a new
/// version, 200 when the same bytes were loaded before.
///
/// # Errors
/// 403 below admin, 409 when the registry is not running, 422 with the
/// reason when the component does not load (the loaded versions stay).
pub async fn upload(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
    let sha256 = body.as_ref().map(|b| content_hash(b)).unwrap_or_default();
    let result = match (caller.require(Role::Admin), body) {
        (Err(error), _) => Err(error),
        (Ok(()), Err(rejection)) => Err(rejection.into()),
        (Ok(()), Ok(bytes)) => add(&state, bytes).await,
    };
    let summary = result
        .as_ref()
        .map(|(status, view)| format!("{} {}@{}", status.as_u16(), view.name, view.version));
    audit::record(
        &caller,
        "plugin.upload",
        &format!("sha256 {sha256}"),
        summary,
    );
    result.map(|(status, view)| (status, Json(view)))
}

async fn add(state: &Arc<AdminState>, bytes: Bytes) -> Result<(StatusCode, PluginView), ApiError> {
    let registry = registry(state)?;
    state
        .blocking(move |_| {
            let sha256 = content_hash(&bytes);
            let known = registry.all().iter().any(|v| v.sha256 == sha256);
            let version = registry.add(&bytes).map_err(|error| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "plugin_refused",
                    error.to_string(),
                )
            })?;
            let status = if known {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((status, PluginView::of(&version)))
        })
        .await
}

/// The registry, or 409 when it is not running.
///
/// # Errors
/// 409 `no_registry`.
pub fn registry(state: &AdminState) -> Result<Arc<PluginRegistry>, ApiError> {
    state.registry.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_registry",
            "no channel has a plugin pipeline, so the plugin registry is not running; add a [[channels.pipeline]] stage",
        )
    })
}
