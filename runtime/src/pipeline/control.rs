//! A channel's run state as an administrator sets it: running, paused
//! (messages are still received and ACKed, but neither the pipeline nor
//! delivery takes new work) or stopped (paused, and the MLLP listener is
//! closed).
//!
//! The admin API keeps the state in the store, so an engine that restarts
//! brings each channel back as an administrator left it. Workers look at it
//! before each batch, so a pause takes effect after the batch in hand (a
//! delivery worker's, after the entry in hand). A paused `after_transform` channel answers AE
//! (stored, not yet transformed) once `transform_ack_timeout_secs` passes.

use serde::Serialize;
use tokio::sync::watch;

/// What a channel does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelState {
    /// Receiving, processing and delivering.
    Running,
    /// Receiving and ACKing; processing and delivery wait.
    Paused,
    /// Not listening; processing and delivery wait.
    Stopped,
}

/// The shared, watchable run state of one channel.
#[derive(Debug)]
pub struct ChannelControl {
    state: watch::Sender<ChannelState>,
}

impl ChannelState {
    /// `running`, `paused` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Running => "running",
            ChannelState::Paused => "paused",
            ChannelState::Stopped => "stopped",
        }
    }

    /// The state named by [`ChannelState::as_str`], if `name` is one.
    pub fn from_name(name: &str) -> Option<ChannelState> {
        [
            ChannelState::Running,
            ChannelState::Paused,
            ChannelState::Stopped,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }
}

impl ChannelControl {
    /// A channel starting in `state`.
    pub fn new(state: ChannelState) -> Self {
        ChannelControl {
            state: watch::Sender::new(state),
        }
    }

    /// The state now.
    pub fn state(&self) -> ChannelState {
        *self.state.borrow()
    }

    /// Moves to the state `next` picks from the current one, at once (no
    /// other change comes between), and wakes whoever waits on it; returns
    /// the state replaced and the new one.
    ///
    /// # Errors
    /// What `next` returns; the state is then unchanged.
    pub fn update<E>(
        &self,
        next: impl FnOnce(ChannelState) -> Result<ChannelState, E>,
    ) -> Result<(ChannelState, ChannelState), E> {
        let mut outcome = None;
        self.state.send_if_modified(|state| {
            let previous = *state;
            let result = next(previous);
            let changed = result.as_ref().is_ok_and(|new| *new != previous);
            if let Ok(new) = &result {
                *state = *new;
            }
            outcome = Some(result.map(|new| (previous, new)));
            changed
        });
        outcome.expect("send_if_modified runs the closure")
    }

    /// Returns once the channel is running: workers wait here before each
    /// batch.
    pub async fn running(&self) {
        self.until(|state| state == ChannelState::Running).await;
    }

    /// Returns once the channel is stopped.
    pub async fn stopped(&self) {
        self.until(|state| state == ChannelState::Stopped).await;
    }

    /// Returns once the channel is not stopped: its listener may open again.
    pub async fn listening(&self) {
        self.until(|state| state != ChannelState::Stopped).await;
    }

    async fn until(&self, wanted: impl Fn(ChannelState) -> bool) {
        // The sender lives as long as `self`, so the wait cannot fail.
        let _ = self
            .state
            .subscribe()
            .wait_for(|state| wanted(*state))
            .await;
    }
}
