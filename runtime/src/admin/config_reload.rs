//! `POST /api/v1/config/reload`: an operator has the engine read its
//! configuration file again and apply what changed in its channels, lookup
//! tables, profiles, admin credentials and alert rules, without a restart
//! (see [`crate::running`]); with `?dry_run=true`, what it would do, with
//! the same checks, nothing applied. Audited.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::running::{ReloadError, ReloadReport};

/// The query of `POST /api/v1/config/reload`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadQuery {
    /// Plan and check only: say what a reload would do, apply nothing.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/config/reload`: the channels started, restarted, stopped
/// and left alone, and the settings applied (or, in a dry run, that would
/// be); operator role.
///
/// # Errors
/// 403 below operator; 409 when the engine runs its embedded default
/// (`no_config_file`) or a setting that applies only at start changed
/// (`restart_required`); 422 when the file does not load
/// (`invalid_config`, naming the file, channel and key) or a channel's
/// plugins or destinations would not start (`channel_refused`), in which
/// cases nothing changed; 500 when a channel did not start after the
/// channels it replaced had stopped (`channel_not_started`).
pub async fn reload(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    query: Result<Query<ReloadQuery>, QueryRejection>,
) -> Result<Json<ReloadReport>, ApiError> {
    let Query(query) = query?;
    let result = match caller.require(Role::Operator) {
        Ok(()) if query.dry_run => state.channels.preview().await.map_err(answer),
        Ok(()) => crate::server::reload_config(&state.channels, &state.metrics)
            .await
            .map_err(answer),
        Err(error) => Err(error),
    };
    let action = match query.dry_run {
        true => "config.reload_dry_run",
        false => "config.reload",
    };
    let summary = result.as_ref().map(|report| {
        format!(
            "{} started, {} restarted, {} stopped, {} unchanged; settings applied: {}",
            report.started.len(),
            report.restarted.len(),
            report.stopped.len(),
            report.unchanged.len(),
            match report.settings.as_slice() {
                [] => "none".to_string(),
                settings => settings.join(", "),
            }
        )
    });
    audit::record(
        &state.metrics,
        &caller,
        action,
        "the configuration file",
        summary,
    );
    result.map(Json)
}

fn answer(error: ReloadError) -> ApiError {
    let status = match &error {
        ReloadError::NoFile | ReloadError::NeedsRestart(_) => StatusCode::CONFLICT,
        ReloadError::Invalid(_) | ReloadError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ReloadError::Start { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let code = error.code();
    ApiError::new(status, code, error.to_string())
}
