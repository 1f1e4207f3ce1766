//! The audit trail of administrator actions: one line per action, at
//! target `audit` (so in the audit log, `crate::logging`), naming the caller (by token name), the action, what it
//! applied to and the result. Subjects are ids, names and filters: never a
//! message body or anything from one.

use super::auth::Caller;
use super::error::ApiError;
use crate::logging::AUDIT_TARGET;

/// Logs that `caller` did `action` on `subject`, with `result` (a short
/// summary on success) or the error it got.
pub fn record(caller: &Caller, action: &str, subject: &str, result: Result<String, &ApiError>) {
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
