//! `/api/v1/dead-letters`: list and inspect dead letters, reprocess and
//! purge them. Lists carry metadata only; one dead letter's payload is
//! shown to the admin role alone. Reprocess and purge need the operator
//! role and are audited.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::store::{DeadLetter, DeadLetterFilter, DeadLetterHeader, DeadLetterReason};

/// The most dead letters one list returns.
const MAX_LIMIT: usize = 1000;

/// The query of `GET /api/v1/dead-letters`: a [`DeadLetterFilter`] and a
/// limit. (The filter is spelled out because query strings carry numbers
/// as text, which a flattened struct cannot read.)
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadLetterQuery {
    /// Only this one.
    pub sequence: Option<u64>,
    /// Only this channel's.
    pub channel: Option<String>,
    /// Only this destination's (`pipeline` for pipeline failures).
    pub destination: Option<String>,
    /// Only for this reason.
    pub reason: Option<DeadLetterReason>,
    /// Last failure at or after (ms since the Unix epoch).
    pub since_ms: Option<u64>,
    /// Last failure before.
    pub until_ms: Option<u64>,
    /// At most this many, oldest first. By default 100, at most 1000.
    pub limit: Option<usize>,
}

impl DeadLetterQuery {
    fn filter(&self) -> DeadLetterFilter {
        DeadLetterFilter {
            sequence: self.sequence,
            channel: self.channel.clone(),
            destination: self.destination.clone(),
            reason: self.reason,
            since_ms: self.since_ms,
            until_ms: self.until_ms,
        }
    }
}

/// A dead letter; its payload only for the admin role.
#[derive(Debug, Serialize)]
pub struct DeadLetterView {
    /// Its sequence.
    pub sequence: u64,
    /// Its metadata, reason and error.
    #[serde(flatten)]
    pub header: DeadLetterHeader,
    /// The payload's size.
    pub size_bytes: usize,
    /// The payload (lossy UTF-8), for the admin role on `GET
    /// /dead-letters/{sequence}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl DeadLetterView {
    fn of(letter: DeadLetter, with_body: bool) -> Self {
        DeadLetterView {
            sequence: letter.sequence,
            size_bytes: letter.body.len(),
            body: with_body.then(|| String::from_utf8_lossy(&letter.body).into_owned()),
            header: letter.header,
        }
    }
}

/// `GET /api/v1/dead-letters`: metadata of the matching dead letters.
///
/// # Errors
/// 400 for a bad query, 503 when the store fails.
pub async fn list(
    _caller: Caller,
    State(state): State<Arc<AdminState>>,
    query: Result<Query<DeadLetterQuery>, QueryRejection>,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(100).min(MAX_LIMIT);
    state
        .blocking(move |state| {
            let letters = state.store.dead_letters(&query.filter(), limit)?;
            Ok(Json(
                letters
                    .into_iter()
                    .map(|l| DeadLetterView::of(l, false))
                    .collect(),
            ))
        })
        .await
}

/// `GET /api/v1/dead-letters/{sequence}`: one dead letter, with its
/// payload for the admin role (audited).
///
/// # Errors
/// 404 for an unknown sequence, 503 when the store fails.
pub async fn show(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    sequence: Result<Path<u64>, PathRejection>,
) -> Result<Json<DeadLetterView>, ApiError> {
    let Path(sequence) = sequence?;
    let with_body = caller.require(Role::Admin).is_ok();
    let filter = DeadLetterFilter {
        sequence: Some(sequence),
        ..DeadLetterFilter::default()
    };
    let found = state
        .blocking(move |state| {
            let letter = state.store.dead_letters(&filter, 1)?.pop();
            letter.ok_or_else(|| ApiError::not_found(format!("dead letter {sequence}")))
        })
        .await;
    if with_body {
        let summary = found.as_ref().map(|l| format!("{} bytes", l.body.len()));
        audit::record(
            &state.metrics,
            &caller,
            "dead_letter.body",
            &format!("dead letter {sequence}"),
            summary,
        );
    }
    Ok(Json(DeadLetterView::of(found?, with_body)))
}

/// `POST /api/v1/dead-letters/reprocess`: puts the dead letters the JSON
/// filter matches back in their queues and wakes their workers; operator
/// role.
///
/// # Errors
/// 400 for a bad filter, 403 below operator, 503 when the store fails
/// (entries requeued before the failure stay requeued).
pub async fn reprocess(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    filter: Result<Json<DeadLetterFilter>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    // Not while a reload changes partitions: see `Channels::steady`.
    let _steady = state.channels.steady().await;
    audit::operate(
        caller,
        state,
        filter,
        "dead_letters.reprocess",
        |state, filter| {
            let requeued = crate::server::reprocess_dead_letters(
                &state.store,
                &state.wakers,
                &state.channel_set().configs,
                filter,
            )?;
            let sequences: Vec<u64> = requeued.iter().map(|r| r.sequence).collect();
            Ok(json!({ "requeued": requeued.len(), "sequences": sequences }))
        },
    )
    .await
}

/// `POST /api/v1/dead-letters/purge`: deletes the dead letters the JSON
/// filter matches; operator role.
///
/// # Errors
/// As for [`reprocess`].
pub async fn purge(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    filter: Result<Json<DeadLetterFilter>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    audit::operate(
        caller,
        state,
        filter,
        "dead_letters.purge",
        |state, filter| Ok(json!({ "purged": state.store.purge_dead_letters(filter)? })),
    )
    .await
}
