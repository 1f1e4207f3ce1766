//! `POST /api/v1/channels/{name}/stages/{index}/activate`: swaps the plugin
//! version one pipeline stage runs, while traffic flows. The version is
//! started and configured with the stage's settings first; only then does it
//! replace the running one, and messages in flight finish on the version
//! they started with. `POST .../rollback` activates the version the last
//! swap replaced.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::plugins::{PluginView, registry};
use super::state::AdminState;
use crate::config::Role;

/// The request: which version to run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// `latest`, an exact version, or a sha256 prefix of 8+ hex digits.
    pub version: String,
}

/// The answer: what runs now and what ran before.
#[derive(Debug, Serialize)]
pub struct Activated {
    /// The channel.
    pub channel: String,
    /// The stage's index in the pipeline.
    pub stage: usize,
    /// The version now active.
    pub active: PluginView,
    /// The version it replaced (activate it to roll back).
    pub previous: PluginView,
    /// Microseconds from the request to the swap (start, checks, swap).
    pub swap_micros: u64,
}

/// Activates a version for one stage; admin role, audited.
///
/// # Errors
/// 403 below admin, 404 for an unknown channel, stage or version, 409
/// without a registry, 422 when the version does not start with the
/// stage's settings or belongs to another plugin (the running one stays).
pub async fn activate(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    Path((name, stage)): Path<(String, usize)>,
    request: Result<Json<ActivateRequest>, JsonRejection>,
) -> Result<Json<Activated>, ApiError> {
    let wanted = request
        .as_ref()
        .map(|Json(r)| r.version.clone())
        .unwrap_or_default();
    let result = match (caller.require(Role::Admin), request) {
        (Err(error), _) => Err(error),
        (Ok(()), Err(rejection)) => Err(rejection.into()),
        (Ok(()), Ok(Json(request))) => {
            swap(
                &state,
                name.clone(),
                stage,
                Wanted::Version(request.version),
            )
            .await
        }
    };
    audit::record(
        &state.metrics,
        &caller,
        "plugin.activate",
        &format!("channel {name} stage {stage} version {wanted}"),
        result.as_ref().map(summary),
    );
    result.map(Json)
}

/// `POST /api/v1/channels/{name}/stages/{index}/rollback`: activates the
/// version the stage's last swap replaced; admin role, audited.
///
/// # Errors
/// As [`activate`], and 409 when the stage was never swapped.
pub async fn rollback(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    Path((name, stage)): Path<(String, usize)>,
) -> Result<Json<Activated>, ApiError> {
    let result = match caller.require(Role::Admin) {
        Err(error) => Err(error),
        Ok(()) => swap(&state, name.clone(), stage, Wanted::Previous).await,
    };
    audit::record(
        &state.metrics,
        &caller,
        "plugin.rollback",
        &format!("channel {name} stage {stage}"),
        result.as_ref().map(summary),
    );
    result.map(Json)
}

/// Which version to activate.
enum Wanted {
    /// As the registry resolves it: `latest`, a version or a hash prefix.
    Version(String),
    /// The one the last swap replaced.
    Previous,
}

fn summary(activated: &Activated) -> String {
    format!(
        "{}@{} ({}) replaced {}",
        activated.active.name,
        activated.active.version,
        &activated.active.sha256[..12],
        &activated.previous.sha256[..12]
    )
}

async fn swap(
    state: &Arc<AdminState>,
    channel: String,
    stage: usize,
    wanted: Wanted,
) -> Result<Activated, ApiError> {
    let started = std::time::Instant::now();
    let registry = registry(state)?;
    let pipeline = state.pipeline(&channel)?;
    state
        .blocking(move |_| {
            let (_, stages) = pipeline.stages.snapshot();
            let running = stages.get(stage).ok_or_else(|| {
                ApiError::not_found(format!("stage {stage} of channel {channel:?}"))
            })?;
            let plugin = &running.version.info.name;
            let version = match &wanted {
                Wanted::Version(wanted) => registry.resolve(plugin, wanted).ok_or_else(|| {
                    ApiError::not_found(format!("version {wanted:?} of plugin {plugin:?}"))
                })?,
                Wanted::Previous => pipeline.stages.replaced(stage).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::CONFLICT,
                        "nothing_to_roll_back",
                        format!("stage {stage} of channel {channel:?} was never swapped"),
                    )
                })?,
            };
            let previous = pipeline
                .stages
                .activate(stage, version.clone())
                .map_err(|error| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "activation_refused",
                        error.to_string(),
                    )
                })?;
            tracing::info!(
                channel = %channel,
                stage,
                from = %previous.label(),
                to = %version.label(),
                "Plugin version activated."
            );
            Ok(Activated {
                channel,
                stage,
                active: PluginView::of(&version),
                previous: PluginView::of(&previous),
                swap_micros: started.elapsed().as_micros() as u64,
            })
        })
        .await
}
