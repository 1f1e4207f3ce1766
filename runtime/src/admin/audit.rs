//! The audit trail of administrator actions: one line per action, at
//! target `audit` (so in the audit log, `crate::logging`), naming the caller (by token name), the action, what it
//! applied to and the result. Subjects are ids, names and filters: never a
//! message body or anything from one.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use serde::Serialize;
use serde_json::Value;

use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::logging::AUDIT_TARGET;
use crate::metrics::Metrics;

/// Logs that `caller` did `action` on `subject`, with `result` (a short
/// summary on success) or the error it got, and counts it by action and
/// result (`done`, or the error's code).
pub fn record(
    metrics: &Metrics,
    caller: &Caller,
    action: &str,
    subject: &str,
    result: Result<String, &ApiError>,
) {
    let outcome = match &result {
        Ok(_) => "done",
        Err(error) => error.code,
    };
    let labels = vec![
        ("action", action.to_owned()),
        ("result", outcome.to_owned()),
    ];
    metrics.admin_actions.get_or_create(&labels).inc();
    match result {
        Ok(summary) => tracing::info!(
            target: AUDIT_TARGET,
            who = caller.name,
            role = caller.role.as_str(),
            action,
            subject,
            result = summary.as_str(),
            "Admin action done."
        ),
        Err(error) => tracing::warn!(
            target: AUDIT_TARGET,
            who = caller.name,
            role = caller.role.as_str(),
            action,
            subject,
            result = error.code,
            status = error.status.as_u16(),
            "Admin action failed."
        ),
    }
}

/// Runs an operator action whose JSON body says what it applies to (a
/// filter or a query) on a blocking thread, and audits it with the body
/// as subject and the answer as result.
pub async fn operate<B: Serialize + Send + 'static>(
    caller: Caller,
    state: Arc<AdminState>,
    body: Result<Json<B>, JsonRejection>,
    action: &'static str,
    work: fn(&AdminState, &B) -> Result<Value, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let subject = body
        .as_ref()
        .map(|Json(b)| serde_json::to_string(b).expect("bodies serialize"))
        .unwrap_or_default();
    let result = match (caller.require(Role::Operator), body) {
        (Err(error), _) => Err(error),
        (Ok(()), Err(rejection)) => Err(rejection.into()),
        (Ok(()), Ok(Json(body))) => state.blocking(move |state| work(state, &body)).await,
    };
    record(
        &state.metrics,
        &caller,
        action,
        &subject,
        result.as_ref().map(Value::to_string),
    );
    result.map(Json)
}
