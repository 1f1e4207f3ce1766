//! `GET /api/v1/messages`, `/messages/{id}` and `/messages/{id}/body`:
//! search stored messages by metadata and read their processing record.
//! Only `/body` returns message content (PHI), and only to the admin role.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::plugin::HL7_V2_CONTENT_TYPE;
use crate::store::{MessageState, MessageStatus, StoredMessage};

/// The most messages one search returns.
const MAX_LIMIT: usize = 1000;

/// How far before `since_ms` a search reads on: the receive times of
/// messages in id order may step back this much (an NTP correction, a
/// clock set back across a restart) without a match being missed.
const CLOCK_SLACK_MS: u64 = 60 * 60 * 1000;

/// The query of `GET /api/v1/messages`; absent fields match all.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageQuery {
    /// The channel.
    pub channel: Option<String>,
    /// MSH-10, exactly.
    pub control_id: Option<String>,
    /// MSH-9: `ADT` matches every ADT message, `ADT^A01` only those.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    /// Received at or after (ms since the Unix epoch).
    pub since_ms: Option<u64>,
    /// Received before.
    pub until_ms: Option<u64>,
    /// `pending` (not through the pipeline yet), `processed`, `filtered`,
    /// `retrying` or `dead_lettered`.
    pub status: Option<String>,
    /// At most this many, newest first. By default 100, at most 1000.
    pub limit: Option<usize>,
}

/// A stored message without its body.
#[derive(Debug, Serialize)]
pub struct MessageSummary {
    /// The store id.
    pub id: u64,
    /// The channel it arrived on.
    pub channel: String,
    /// Its partition.
    pub partition: u32,
    /// When it was received (ms since the Unix epoch).
    pub received_at_ms: u64,
    /// The sender's address.
    pub peer: Option<String>,
    /// MSH-10.
    pub control_id: Option<String>,
    /// MSH-9.
    pub message_type: Option<String>,
    /// The body's size.
    pub size_bytes: usize,
    /// What the pipeline did with it; `None` while it waits.
    pub status: Option<MessageStatus>,
}

impl MessageSummary {
    fn of(message: StoredMessage, status: Option<MessageStatus>) -> Self {
        MessageSummary {
            id: message.id,
            channel: message.channel,
            partition: message.partition,
            received_at_ms: message.received_at_ms,
            peer: message.peer,
            control_id: message.control_id,
            message_type: message.message_type,
            size_bytes: message.raw.len(),
            status,
        }
    }
}

impl MessageQuery {
    /// The wanted state: `None` for any, `Some(None)` for pending.
    fn state(&self) -> Result<Option<Option<MessageState>>, ApiError> {
        let Some(status) = self.status.as_deref() else {
            return Ok(None);
        };
        if status == "pending" {
            return Ok(Some(None));
        }
        serde_json::from_value(serde_json::Value::from(status))
            .map(|state| Some(Some(state)))
            .map_err(|_| ApiError::bad_request(format!("status {status:?} is not pending, processed, filtered, retrying, dead_lettered or requeued")))
    }

    /// Whether `message`'s metadata matches (everything but the status).
    fn matches(&self, message: &StoredMessage) -> bool {
        let wanted_type = |wanted: &String| {
            message.message_type.as_ref().is_some_and(|t| {
                t == wanted
                    || t.strip_prefix(wanted.as_str())
                        .is_some_and(|rest| rest.starts_with('^'))
            })
        };
        self.channel.as_ref().is_none_or(|c| *c == message.channel)
            && self
                .control_id
                .as_ref()
                .is_none_or(|c| message.control_id.as_ref() == Some(c))
            && self.message_type.as_ref().is_none_or(wanted_type)
            && self.since_ms.is_none_or(|t| message.received_at_ms >= t)
            && self.until_ms.is_none_or(|t| message.received_at_ms < t)
    }
}

/// `GET /api/v1/messages`: the newest messages that match, without bodies.
///
/// It scans the store from the newest message back and stops at `limit`
/// matches, or, with `since_ms`, once it reaches messages received
/// [`CLOCK_SLACK_MS`] before it: ids increase in arrival order, so older
/// ids hold older messages, up to a clock step. Without `since_ms`, a query
/// that matches little reads the whole store.
///
/// # Errors
/// 400 for a bad query, 503 when the store fails.
pub async fn search(
    _caller: Caller,
    State(state): State<Arc<AdminState>>,
    query: Result<Query<MessageQuery>, QueryRejection>,
) -> Result<Json<Vec<MessageSummary>>, ApiError> {
    let Query(query) = query?;
    let wanted_state = query.state()?;
    let limit = query.limit.unwrap_or(100).min(MAX_LIMIT);
    let oldest_ms = query.since_ms.map(|t| t.saturating_sub(CLOCK_SLACK_MS));
    state
        .blocking(move |state| {
            let mut found = Vec::with_capacity(limit);
            for message in state.store.messages().rev() {
                if found.len() == limit {
                    break;
                }
                let message = message?;
                if oldest_ms.is_some_and(|oldest| message.received_at_ms < oldest) {
                    break;
                }
                if !query.matches(&message) {
                    continue;
                }
                let status = state.store.status(message.id)?;
                if wanted_state.is_some_and(|w| w != status.as_ref().map(|s| s.state)) {
                    continue;
                }
                found.push(MessageSummary::of(message, status));
            }
            Ok(Json(found))
        })
        .await
}

/// `GET /api/v1/messages/{id}`: metadata and processing record.
///
/// # Errors
/// 404 for an unknown id, 503 when the store fails.
pub async fn show(
    _caller: Caller,
    State(state): State<Arc<AdminState>>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<MessageSummary>, ApiError> {
    let Path(id) = id?;
    state
        .blocking(move |state| {
            let message = stored(state, id)?;
            Ok(Json(MessageSummary::of(message, state.store.status(id)?)))
        })
        .await
}

/// `GET /api/v1/messages/{id}/body`: the message as received; admin only,
/// and audited.
///
/// # Errors
/// 403 below admin, 404 for an unknown id, 503 when the store fails.
pub async fn body(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Path(id) = id?;
    let result = match caller.require(Role::Admin) {
        Ok(()) => state.blocking(move |state| stored(state, id)).await,
        Err(error) => Err(error),
    };
    let summary = result.as_ref().map(|m| format!("{} bytes", m.raw.len()));
    audit::record(&caller, "message.body", &format!("message {id}"), summary);
    Ok(([(CONTENT_TYPE, HL7_V2_CONTENT_TYPE)], result?.raw))
}

fn stored(state: &AdminState, id: u64) -> Result<StoredMessage, ApiError> {
    state
        .store
        .message(id)?
        .ok_or_else(|| ApiError::not_found(format!("message {id}")))
}
