//! `POST /api/v1/channels/{name}/stop|start|pause|resume`: an operator
//! pauses a channel (it still receives and ACKs; processing and delivery
//! wait after the batch in hand), stops it (its MLLP listener closes as
//! well) or sets it running again. Audited.
//!
//! The state is kept in the store (flushed before the answer), so a
//! restart brings the channel back in it.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::pipeline::ChannelState;

/// What an operator asks of a channel.
#[derive(Debug, Clone, Copy)]
enum Action {
    Stop,
    Start,
    Pause,
    Resume,
}

/// The answer: the channel's state before and after.
#[derive(Debug, Serialize)]
pub struct Controlled {
    /// The channel.
    pub channel: String,
    /// Its state now.
    pub state: ChannelState,
    /// Its state before the request.
    pub previous: ChannelState,
}

impl Action {
    fn audit_name(self) -> &'static str {
        match self {
            Action::Stop => "channel.stop",
            Action::Start => "channel.start",
            Action::Pause => "channel.pause",
            Action::Resume => "channel.resume",
        }
    }

    /// The state the action leads to from `from`; pausing or resuming a
    /// stopped channel is a conflict (start it instead).
    fn next(self, from: ChannelState) -> Result<ChannelState, ApiError> {
        match (self, from) {
            (Action::Stop, _) => Ok(ChannelState::Stopped),
            (Action::Start, _) => Ok(ChannelState::Running),
            (Action::Pause | Action::Resume, ChannelState::Stopped) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "channel_stopped",
                "the channel is stopped; start it instead",
            )),
            (Action::Pause, _) => Ok(ChannelState::Paused),
            (Action::Resume, _) => Ok(ChannelState::Running),
        }
    }
}

/// `POST /api/v1/channels/{name}/stop`: closes the listener and pauses
/// processing; operator role.
///
/// # Errors
/// 403 below operator, 404 for an unknown channel.
pub async fn stop(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Controlled>, ApiError> {
    control(&caller, &state, name, Action::Stop)
}

/// `POST /api/v1/channels/{name}/start`: listens again and runs; operator
/// role.
///
/// # Errors
/// As for [`stop`].
pub async fn start(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Controlled>, ApiError> {
    control(&caller, &state, name, Action::Start)
}

/// `POST /api/v1/channels/{name}/pause`: keeps receiving, holds processing
/// and delivery; operator role.
///
/// # Errors
/// As for [`stop`], and 409 when the channel is stopped.
pub async fn pause(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Controlled>, ApiError> {
    control(&caller, &state, name, Action::Pause)
}

/// `POST /api/v1/channels/{name}/resume`: processing and delivery go on;
/// operator role.
///
/// # Errors
/// As for [`pause`].
pub async fn resume(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Controlled>, ApiError> {
    control(&caller, &state, name, Action::Resume)
}

/// Applies `action` to the named channel and audits it.
fn control(
    caller: &Caller,
    state: &AdminState,
    name: Result<Path<String>, PathRejection>,
    action: Action,
) -> Result<Json<Controlled>, ApiError> {
    let subject = match &name {
        Ok(Path(name)) => format!("channel {name}"),
        Err(_) => String::new(),
    };
    let result = caller.require(Role::Operator).and_then(|()| {
        let Path(name) = name?;
        let pipeline = state.pipeline(&name)?;
        let (previous, now) = pipeline.control.update(|from| action.next(from))?;
        let kept = (now != ChannelState::Running).then(|| now.as_str());
        state
            .store
            .set_channel_state(&name, kept)
            .map_err(|error| {
                ApiError::internal(format!(
                    "the channel is {} now, but that was not saved and a restart \
                 would not keep it: {error}",
                    now.as_str()
                ))
            })?;
        Ok(Controlled {
            channel: name,
            state: now,
            previous,
        })
    });
    let summary = result
        .as_ref()
        .map(|c| format!("{} -> {}", c.previous.as_str(), c.state.as_str()));
    audit::record(
        &state.metrics,
        caller,
        action.audit_name(),
        &subject,
        summary,
    );
    result.map(Json)
}
