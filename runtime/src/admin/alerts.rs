//! `GET /api/v1/alerts`: the active alerts.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::auth::Caller;
use super::state::AdminState;
use crate::alerts::Alert;

/// `GET /api/v1/alerts`: the alerts that hold now, by kind and channel.
pub async fn list(_caller: Caller, State(state): State<Arc<AdminState>>) -> Json<Vec<Alert>> {
    Json(state.alerts.active())
}
