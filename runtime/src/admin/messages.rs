//! `GET /api/v1/messages`, `/messages/{id}` and `/messages/{id}/body`:
//! search stored messages by metadata (and, for the admin role, by a
//! field's value, such as a patient's MRN) and read their processing
//! record. Only `/body` returns message content (PHI), and only to the
//! admin role; the value searched for never reaches the audit log.
//! `POST /api/v1/messages/reprocess` runs matching messages through their
//! channel's pipeline again.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::plugin::HL7_V2_CONTENT_TYPE;
use crate::store::{MessageState, MessageStatus, StoreError, StoredMessage};

/// The most messages one search returns.
const MAX_LIMIT: usize = 1000;

/// The most stored messages one search reads (2 to 3 s by metadata and
/// about 4 s by content on this project's machine), so that a query
/// matching little does not read a large store whole; the answer then says
/// where to go on ([`NEXT_BEFORE_ID`]).
const MAX_SCAN: usize = 1_000_000;

/// The header of a search that read `scan_limit` messages before it was
/// done: the id to pass as `before_id` to search further back.
pub const NEXT_BEFORE_ID: &str = "hl7wasm-next-before-id";

/// How far before `since_ms` a search reads on: the receive times of
/// messages in id order may step back this much (an NTP correction, a
/// clock set back across a restart) without a match being missed.
const CLOCK_SLACK_MS: u64 = 60 * 60 * 1000;

/// The query of `GET /api/v1/messages` and the body of `POST
/// /api/v1/messages/reprocess`; absent fields match all.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageQuery {
    /// The message with this id only.
    pub id: Option<u64>,
    /// The channel.
    pub channel: Option<String>,
    /// MSH-10, exactly.
    pub control_id: Option<String>,
    /// The name in the sender's TLS client certificate, exactly.
    pub peer_certificate: Option<String>,
    /// MSH-9: `ADT` matches every ADT message, `ADT^A01` only those.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    /// Received at or after (ms since the Unix epoch).
    pub since_ms: Option<u64>,
    /// Received before.
    pub until_ms: Option<u64>,
    /// `pending` (not through the pipeline yet), `processed`, `filtered`,
    /// `retrying`, `dead_lettered` or `requeued`.
    pub status: Option<String>,
    /// At most this many, newest first. By default 100, at most 1000.
    pub limit: Option<usize>,
    /// Only messages with a lower id: where an earlier search stopped.
    pub before_id: Option<u64>,
    /// Read at most this many stored messages, newest first; a search that
    /// stops there answers with the [`NEXT_BEFORE_ID`] header. By default,
    /// and at most, 1,000,000.
    pub scan_limit: Option<usize>,
    /// A field of HL7 v2 messages that must hold `value`, as a terser path
    /// such as `PID-3.1`: every repetition of the field unless the path
    /// names one (`PID-3[2].1`), in the first segment of that name unless
    /// it names another (`OBX[2]-3.1`). Admin role: it finds messages by
    /// their content.
    pub field: Option<String>,
    /// The value `field` must hold, exactly (escapes resolved). Kept out of
    /// the audit log, which records the field only.
    #[serde(skip_serializing)]
    pub value: Option<String>,
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
    /// The name in the sender's TLS client certificate, under mTLS.
    pub peer_certificate: Option<String>,
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
            peer_certificate: message.peer_certificate,
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

    /// Whether the query searches content (`field` or `value`), which only
    /// the admin role may.
    fn searches_content(&self) -> bool {
        self.field.is_some() || self.value.is_some()
    }

    /// The content filter, its path parsed once; `None` without one.
    ///
    /// # Errors
    /// 400 when only one of `field` and `value` is given or the path is
    /// not a terser path.
    fn content(&self) -> Result<Option<ContentFilter<'_>>, ApiError> {
        let (field, value) = match (&self.field, &self.value) {
            (None, None) => return Ok(None),
            (Some(field), Some(value)) => (field.as_str(), value.as_str()),
            _ => return Err(ApiError::bad_request("field and value go together")),
        };
        let path = hl7v2::Path::parse(field).map_err(|error| {
            ApiError::bad_request(format!(
                "field {field:?} is not a path such as PID-3.1: {error}"
            ))
        })?;
        let names_repetition = field.split_once('-').is_some_and(|(_, f)| f.contains('['));
        Ok(Some(ContentFilter {
            path,
            every_repetition: !names_repetition,
            value,
        }))
    }

    /// Whether `message`'s metadata matches (everything but the status
    /// and the content).
    fn matches(&self, message: &StoredMessage) -> bool {
        let wanted_type = |wanted: &String| {
            message.message_type.as_ref().is_some_and(|t| {
                t == wanted
                    || t.strip_prefix(wanted.as_str())
                        .is_some_and(|rest| rest.starts_with('^'))
            })
        };
        self.id.is_none_or(|id| id == message.id)
            && self.channel.as_ref().is_none_or(|c| *c == message.channel)
            && self
                .control_id
                .as_ref()
                .is_none_or(|c| message.control_id.as_ref() == Some(c))
            && self
                .peer_certificate
                .as_ref()
                .is_none_or(|c| message.peer_certificate.as_ref() == Some(c))
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
/// ids hold older messages, up to a clock step. It reads at most
/// `scan_limit` stored messages (1,000,000 by default and at most): a
/// search that stops there answers with the [`NEXT_BEFORE_ID`] header, the
/// `before_id` that searches on from there. A search by content (`field`,
/// `value`) goes to [`search_posted`] instead: 400 here.
///
/// # Errors
/// 400 for a bad query or one by content, 503 when the store fails.
pub async fn search(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    query: Result<Query<MessageQuery>, QueryRejection>,
) -> Result<Searched, ApiError> {
    let Query(query) = query?;
    if query.searches_content() {
        return Err(ApiError::bad_request(
            "search by a field's value with POST /api/v1/messages/search, so that the value \
             (a patient's number, say) is in no URL that proxies log",
        ));
    }
    searched(caller, state, query).await
}

/// `POST /api/v1/messages/search`: the same search with the query as a
/// JSON body, the only way to search by a field's value, so that the value
/// (a patient's number) is not in a URL that proxies and their access logs
/// keep. A search by content parses each candidate; it needs the admin role
/// and is audited, naming the field but not the value.
///
/// # Errors
/// 400 for a bad query, 403 for a search by content below admin, 503 when
/// the store fails.
pub async fn search_posted(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    query: Result<Json<MessageQuery>, JsonRejection>,
) -> Result<Searched, ApiError> {
    let Json(query) = query?;
    searched(caller, state, query).await
}

/// Runs a search; one by content needs the admin role and is audited.
async fn searched(
    caller: Caller,
    state: Arc<AdminState>,
    query: MessageQuery,
) -> Result<Searched, ApiError> {
    query.state()?;
    // A search by content is audited, with the field but not the value.
    let by_content = query
        .searches_content()
        .then(|| format!("field {}", query.field.as_deref().unwrap_or_default()));
    let allowed = match by_content {
        Some(_) => caller.require(Role::Admin),
        None => Ok(()),
    };
    let found = match allowed {
        Ok(()) => state.blocking(move |state| summaries(state, &query)).await,
        Err(error) => Err(error),
    };
    if let Some(subject) = by_content {
        let summary = found
            .as_ref()
            .map(|f| format!("{} found", f.summaries.len()));
        audit::record(
            &state.metrics,
            &caller,
            "messages.search_content",
            &subject,
            summary,
        );
    }
    found
}

/// What a search found, and where to go on when it stopped at its
/// `scan_limit`: a JSON array, with the [`NEXT_BEFORE_ID`] header then.
pub struct Searched {
    summaries: Vec<MessageSummary>,
    next_before_id: Option<u64>,
}

impl IntoResponse for Searched {
    fn into_response(self) -> axum::response::Response {
        let mut response = Json(self.summaries).into_response();
        if let Some(id) = self.next_before_id {
            response
                .headers_mut()
                .insert(NEXT_BEFORE_ID, axum::http::HeaderValue::from(id));
        }
        response
    }
}

/// The summaries of the messages `query` finds.
fn summaries(state: &AdminState, query: &MessageQuery) -> Result<Searched, ApiError> {
    let found = find(state, query)?;
    Ok(Searched {
        summaries: found
            .messages
            .into_iter()
            .map(|(m, s)| MessageSummary::of(m, s))
            .collect(),
        next_before_id: found.next_before_id,
    })
}

/// The messages a query matched, with their status, newest first.
struct Found {
    messages: Vec<(StoredMessage, Option<MessageStatus>)>,
    /// Set when the scan stopped at its `scan_limit`: the lowest id read.
    next_before_id: Option<u64>,
}

/// The newest messages `query` matches, with their status, at most its
/// limit (see [`search`] for how far the scan reads).
fn find(state: &AdminState, query: &MessageQuery) -> Result<Found, ApiError> {
    let wanted_state = query.state()?;
    let content = query.content()?;
    let limit = query.limit.unwrap_or(100).min(MAX_LIMIT);
    let scan_limit = query.scan_limit.unwrap_or(MAX_SCAN).clamp(1, MAX_SCAN);
    let oldest_ms = query.since_ms.map(|t| t.saturating_sub(CLOCK_SLACK_MS));
    let mut found = Found {
        messages: Vec::with_capacity(limit),
        next_before_id: None,
    };
    let candidates: Box<dyn Iterator<Item = Result<StoredMessage, StoreError>>> = match query.id {
        Some(id) => Box::new(state.store.message(id).transpose().into_iter()),
        None => {
            let below = query.before_id.unwrap_or(u64::MAX);
            Box::new(state.store.messages_below(below).rev())
        }
    };
    for (read, message) in candidates.enumerate() {
        if found.messages.len() == limit {
            break;
        }
        let message = message?;
        if oldest_ms.is_some_and(|oldest| message.received_at_ms < oldest) {
            break;
        }
        if read == scan_limit {
            found.next_before_id = Some(message.id + 1);
            break;
        }
        let wanted = query.matches(&message)
            && content
                .as_ref()
                .is_none_or(|filter| filter.matches(&message));
        if !wanted {
            continue;
        }
        let status = state.store.status(message.id)?;
        if wanted_state.is_some_and(|w| w != status.as_ref().map(|s| s.state)) {
            continue;
        }
        found.messages.push((message, status));
    }
    Ok(found)
}

/// A search by content: the field's path (see [`MessageQuery::field`]) and
/// the value it must hold.
struct ContentFilter<'q> {
    path: hl7v2::Path<'q>,
    /// Whether every repetition of the field is looked at (the path names
    /// none).
    every_repetition: bool,
    value: &'q str,
}

impl ContentFilter<'_> {
    /// Whether the HL7 v2 `message` holds the value at the path.
    fn matches(&self, message: &StoredMessage) -> bool {
        let Ok(parsed) = hl7v2::Message::parse(&message.raw) else {
            return false;
        };
        let holds = |path: &hl7v2::Path<'_>| {
            parsed
                .locate(path)
                .is_some_and(|raw| hl7v2::unescape(raw, parsed.delimiters()) == self.value)
        };
        if !self.every_repetition {
            return holds(&self.path);
        }
        (1..=MAX_REPETITIONS).any(|repetition| {
            holds(&hl7v2::Path {
                repetition,
                ..self.path
            })
        })
    }
}

/// How many repetitions of a field a content search looks at.
const MAX_REPETITIONS: usize = 32;

/// `POST /api/v1/messages/reprocess`: sends the messages the JSON query
/// matches (as for the search, newest first up to its limit) through their
/// channel's pipeline again, oldest first, and on to the destinations its
/// outputs are routed to; operator role, audited. Only messages through
/// the pipeline (processed, filtered, dead-lettered) are queued; those
/// still queued are `skipped`, so nothing runs twice at once, as are those
/// of a channel no longer configured. A message's dead letters stay: reprocess those from the dead-letter queue to retry
/// only what failed. A query by content needs the admin role.
///
/// # Errors
/// 400 for a bad query, 403 below operator (below admin for a query by
/// content), 503 when the store fails (messages queued before the failure
/// stay queued).
pub async fn reprocess(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    query: Result<Json<MessageQuery>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    if let Ok(Json(wanted)) = &query
        && wanted.searches_content()
        && let Err(error) = caller.require(Role::Admin)
    {
        audit::record(
            &state.metrics,
            &caller,
            "messages.reprocess",
            "by content",
            Err(&error),
        );
        return Err(error);
    }
    // Not while a reload changes partitions: see `Channels::steady`.
    let _steady = state.channels.steady().await;
    audit::operate(
        caller,
        state,
        query,
        "messages.reprocess",
        |state, query| {
            // A channel no longer configured has no worker to run them.
            let found = find(state, query)?;
            let (runnable, orphans): (Vec<StoredMessage>, Vec<StoredMessage>) = found
                .messages
                .into_iter()
                .map(|(m, _)| m)
                .partition(|m| state.channel(&m.channel).is_ok());
            let requeued = crate::server::reprocess_messages(
                &state.store,
                &state.wakers,
                &state.channel_set().configs,
                &runnable,
            )?;
            let mut skipped: Vec<u64> = runnable
                .iter()
                .chain(&orphans)
                .map(|m| m.id)
                .filter(|id| !requeued.contains(id))
                .collect();
            skipped.sort_unstable();
            Ok(json!(Reprocessed {
                requeued,
                skipped,
                next_before_id: found.next_before_id,
            }))
        },
    )
    .await
}

/// The answer of `POST /api/v1/messages/reprocess`.
#[derive(Debug, Serialize)]
pub struct Reprocessed {
    /// The ids queued again, oldest first.
    pub requeued: Vec<u64>,
    /// The ids that matched but were still queued (or whose channel is
    /// gone), left alone.
    pub skipped: Vec<u64>,
    /// Set when the query read `scan_limit` messages first: older ones may
    /// match too; pass this as `before_id` to go on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before_id: Option<u64>,
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
    audit::record(
        &state.metrics,
        &caller,
        "message.body",
        &format!("message {id}"),
        summary,
    );
    Ok(([(CONTENT_TYPE, HL7_V2_CONTENT_TYPE)], result?.raw))
}

fn stored(state: &AdminState, id: u64) -> Result<StoredMessage, ApiError> {
    state
        .store
        .message(id)?
        .ok_or_else(|| ApiError::not_found(format!("message {id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The audit log records an action's query as its subject: the value
    /// searched for (a patient's number, say) must not be in it.
    #[test]
    fn the_value_searched_for_is_not_serialised() {
        let query = MessageQuery {
            field: Some("PID-3.1".into()),
            value: Some("4711".into()),
            ..MessageQuery::default()
        };
        let subject = serde_json::to_string(&query).unwrap();
        assert!(
            subject.contains("PID-3.1") && !subject.contains("4711"),
            "{subject}"
        );
    }
}
