//! `/api/v1/plugins`: the loaded plugin versions, uploading a new one
//! (optionally with self-tests it must pass first) and deleting one no
//! stage runs. Uploading only loads a version and keeps it; which version a
//! channel runs is its configuration's choice.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::plugin_upload::Upload;
use super::state::AdminState;
use crate::config::Role;
use crate::plugin::{PluginRegistry, PluginVersion, RemoveError, content_hash, self_test};

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
    /// Why the signing policy would refuse this loaded version now, if it
    /// would (listed versions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untrusted: Option<String>,
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
            untrusted: None,
        }
    }
}

/// `GET /api/v1/plugins`: every loaded version, by name then load order,
/// with the reason for those the signing policy would now refuse; empty
/// when no channel has a pipeline (the registry is not running).
pub async fn list(_caller: Caller, State(state): State<Arc<AdminState>>) -> Json<Vec<PluginView>> {
    let Some(registry) = state.registry.as_ref() else {
        return Json(Vec::new());
    };
    let untrusted = registry.untrusted();
    let views = registry
        .all()
        .iter()
        .map(|version| PluginView {
            untrusted: untrusted
                .iter()
                .find(|u| u.sha256 == version.sha256)
                .map(|u| u.reason.clone()),
            ..PluginView::of(version)
        })
        .collect();
    Json(views)
}

/// `POST /api/v1/plugins`: loads the component in the request body (see
/// `plugin_upload.rs`), runs its self-tests on fresh workers, and keeps it
/// in the plugin directory; admin role, audited. 201 for a new version,
/// 200 when the same bytes were loaded before.
///
/// # Errors
/// 403 below admin, 400 for a malformed body, 409 when the registry is not
/// running, 422 `plugin_refused` when the component does not load and 422
/// `self_test_failed` naming the first failing test (a new version is then
/// not kept; the loaded versions stay).
pub async fn upload(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    request: Request,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
    let upload = Upload::read(request).await;
    let subject = match &upload {
        Ok(upload) => format!(
            "sha256 {} with {} self-tests",
            content_hash(&upload.component),
            upload.self_tests.len()
        ),
        Err(_) => "sha256 unknown".to_owned(),
    };
    let result = match (caller.require(Role::Admin), upload) {
        (Err(error), _) | (Ok(()), Err(error)) => Err(error),
        (Ok(()), Ok(upload)) => add(&state, upload).await,
    };
    let summary = result
        .as_ref()
        .map(|(status, view)| format!("{} {}@{}", status.as_u16(), view.name, view.version));
    audit::record(&state.metrics, &caller, "plugin.upload", &subject, summary);
    result.map(|(status, view)| (status, Json(view)))
}

async fn add(
    state: &Arc<AdminState>,
    upload: Upload,
) -> Result<(StatusCode, PluginView), ApiError> {
    let registry = registry(state)?;
    state
        .blocking(move |_| {
            let refused =
                |code, error: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, error);
            let known = registry.find(&content_hash(&upload.component)).is_some();
            let version = registry
                .check(&upload.component)
                .map_err(|error| refused("plugin_refused", error.to_string()))?;
            self_test::run(&version, &upload.config_json, &upload.self_tests)
                .map_err(|failure| refused("self_test_failed", failure.to_string()))?;
            let version = registry
                .store(version, &upload.component)
                .map_err(|error| refused("plugin_refused", error.to_string()))?;
            let status = if known {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((status, PluginView::of(&version)))
        })
        .await
}

/// `DELETE /api/v1/plugins/{sha256}`: removes the version with this full
/// content hash from the registry and deletes its files from the plugin
/// directory, so that neither a restart nor the directory watcher loads it
/// again; admin role, audited. Answers the removed version.
///
/// # Errors
/// 403 below admin, 404 for an unknown hash, 409 `in_use` naming the
/// channel and stage that runs the version (or would roll back to it), 409
/// `bundled` for a version built into the binary (every start loads it
/// again, so a bundled plugin always keeps that version), 409 without a
/// registry, 500 when a file cannot be deleted.
pub async fn delete(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    sha256: Result<Path<String>, PathRejection>,
) -> Result<Json<PluginView>, ApiError> {
    let subject = match &sha256 {
        Ok(Path(sha256)) => format!("sha256 {sha256}"),
        Err(_) => "sha256 unknown".to_owned(),
    };
    let result = match (caller.require(Role::Admin), sha256) {
        (Err(error), _) => Err(error),
        (Ok(()), Err(rejection)) => Err(rejection.into()),
        (Ok(()), Ok(Path(sha256))) => remove(&state, sha256).await,
    };
    let summary = result
        .as_ref()
        .map(|view| format!("deleted {}@{}", view.name, view.version));
    audit::record(&state.metrics, &caller, "plugin.delete", &subject, summary);
    result.map(Json)
}

async fn remove(state: &Arc<AdminState>, sha256: String) -> Result<PluginView, ApiError> {
    let registry = registry(state)?;
    state
        .blocking(move |state| {
            if let Some(user) = user_of(state, &sha256) {
                return Err(ApiError::new(StatusCode::CONFLICT, "in_use", user));
            }
            let version = registry.remove(&sha256).map_err(|error| match error {
                RemoveError::Unknown(_) => ApiError::not_found(format!("plugin version {sha256}")),
                RemoveError::Bundled(_) => {
                    ApiError::new(StatusCode::CONFLICT, "bundled", error.to_string())
                }
                RemoveError::File { .. } => ApiError::internal(error.to_string()),
            })?;
            Ok(PluginView::of(&version))
        })
        .await
}

/// The first channel stage that runs the version `sha256` or would roll
/// back to it, in words.
fn user_of(state: &AdminState, sha256: &str) -> Option<String> {
    let channels = state.channel_set();
    channels.pipelines.iter().find_map(|(channel, pipeline)| {
        let (_, stages) = pipeline.stages.snapshot();
        stages.iter().enumerate().find_map(|(index, stage)| {
            let replaced = pipeline.stages.replaced(index);
            if stage.version.sha256 == sha256 {
                Some(format!("stage {index} of channel {channel:?} runs this version"))
            } else if replaced.is_some_and(|v| v.sha256 == sha256) {
                Some(format!(
                    "stage {index} of channel {channel:?} rolls back to this version; activate another first"
                ))
            } else {
                None
            }
        })
    })
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
