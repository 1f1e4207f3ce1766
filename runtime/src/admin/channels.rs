//! `GET /api/v1/channels` and `GET /api/v1/channels/{name}`: each channel's
//! configuration in brief and run state, and one channel's statistics and
//! rates.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Serialize;

use super::auth::Caller;
use super::error::ApiError;
use super::plugins::PluginView;
use super::rates::ChannelRates;
use super::state::AdminState;
use super::stats::ChannelStats;
use crate::config::{AckMode, ChannelConfig, Ordering};
use crate::deliver::TargetConfig;
use crate::pipeline::{ChannelPipeline, ChannelState};
use crate::store::DeadLetterFilter;

/// A channel's configuration in brief.
#[derive(Debug, Serialize)]
pub struct ChannelSummary {
    /// The name.
    pub name: String,
    /// `running`, `paused` or `stopped` (see `POST .../stop`).
    pub state: ChannelState,
    /// The source in brief, for example `mllp 0.0.0.0:2575`,
    /// `http 0.0.0.0:8443/hl7` or `file /var/spool/hl7 (*.hl7)`.
    pub source: String,
    /// Whether the source uses TLS.
    pub tls: bool,
    /// `commit`, `after_transform`, `after_delivery` or `none`.
    pub ack_mode: &'static str,
    /// With `after_delivery`, the destination whose verdict senders get.
    pub ack_destination: Option<String>,
    /// The conformance profile messages must meet before they are stored.
    pub validation_profile: Option<String>,
    /// The partition key's field path, if any.
    pub partition_by: Option<String>,
    /// How many partitions.
    pub partitions: u32,
    /// `ordered` or `unordered`.
    pub ordering: &'static str,
    /// The plugins, in order, as `name@version`.
    pub pipeline: Vec<String>,
    /// The destinations.
    pub destinations: Vec<DestinationSummary>,
}

/// A destination in brief.
#[derive(Debug, Serialize)]
pub struct DestinationSummary {
    /// The name.
    pub name: String,
    /// `mllp`, `http`, `file` or `channel`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl ChannelSummary {
    /// Summarizes `channel`, in `state`.
    pub fn of(channel: &ChannelConfig, state: ChannelState) -> Self {
        ChannelSummary {
            name: channel.name.clone(),
            state,
            source: channel.source.describe(),
            tls: channel.source.tls().is_some(),
            ack_mode: match channel.ack_mode {
                AckMode::Commit => "commit",
                AckMode::AfterTransform => "after_transform",
                AckMode::AfterDelivery => "after_delivery",
                AckMode::None => "none",
            },
            ack_destination: channel.ack_destination.clone(),
            validation_profile: channel.validation_profile.clone(),
            partition_by: channel.partition_by.clone(),
            partitions: channel.partitions,
            ordering: match channel.ordering {
                Ordering::Ordered => "ordered",
                Ordering::Unordered => "unordered",
            },
            pipeline: channel
                .pipeline
                .iter()
                .map(|stage| format!("{}@{}", stage.plugin, stage.version))
                .collect(),
            destinations: channel
                .destinations
                .iter()
                .map(|d| DestinationSummary {
                    name: d.name.clone(),
                    kind: match d.to {
                        TargetConfig::Mllp(_) => "mllp",
                        TargetConfig::Http(_) => "http",
                        TargetConfig::File(_) => "file",
                        TargetConfig::Channel(_) => "channel",
                    },
                })
                .collect(),
        }
    }
}

/// One channel's configuration and statistics.
#[derive(Debug, Serialize)]
pub struct ChannelStatus {
    /// The configuration in brief.
    #[serde(flatten)]
    pub summary: ChannelSummary,
    /// The counters since the engine started.
    pub stats: ChannelStats,
    /// Per-second rates over the last minute; `null` until the first
    /// sample.
    pub rates: Option<ChannelRates>,
    /// Dead letters waiting now.
    pub dead_letters: usize,
    /// The pipeline's stages as they run now, hot swaps included.
    pub stages: Vec<StageView>,
}

/// One pipeline stage as it runs now.
#[derive(Debug, Serialize)]
pub struct StageView {
    /// Its index: the `{stage}` of `.../stages/{stage}/activate`.
    pub index: usize,
    /// The version the configuration asks for (`latest`, a version or a
    /// hash prefix).
    pub configured: String,
    /// The version running now.
    pub active: PluginView,
    /// The version the last swap replaced, which a rollback restores.
    pub previous: Option<PluginView>,
}

impl StageView {
    /// Every stage of `pipeline`, in order.
    fn all(pipeline: &ChannelPipeline) -> Vec<StageView> {
        let (_, running) = pipeline.stages.snapshot();
        running
            .iter()
            .zip(&pipeline.config.pipeline)
            .enumerate()
            .map(|(index, (stage, configured))| StageView {
                index,
                configured: configured.version.clone(),
                active: PluginView::of(&stage.version),
                previous: pipeline
                    .stages
                    .replaced(index)
                    .map(|version| PluginView::of(&version)),
            })
            .collect()
    }
}

/// `GET /api/v1/channels`: every channel, in configuration order.
pub async fn list(
    _caller: Caller,
    State(state): State<Arc<AdminState>>,
) -> Json<Vec<ChannelSummary>> {
    let channels = state.channel_set();
    Json(
        channels
            .configs
            .iter()
            .map(|channel| ChannelSummary::of(channel, run_state(&state, &channel.name)))
            .collect(),
    )
}

/// `GET /api/v1/channels/{name}`.
///
/// # Errors
/// 404 for an unknown channel, 503 when the store fails.
pub async fn show(
    _caller: Caller,
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<ChannelStatus>, ApiError> {
    let Path(name) = name?;
    state
        .blocking(move |state| {
            let channel = state.channel(&name)?;
            let filter = DeadLetterFilter {
                channel: Some(name.clone()),
                ..DeadLetterFilter::default()
            };
            let stats = ChannelStats::read(&state.metrics, &channel);
            let rates = state.rates.rates(&name, Instant::now(), stats.totals());
            Ok(Json(ChannelStatus {
                summary: ChannelSummary::of(&channel, run_state(state, &name)),
                stats,
                rates,
                dead_letters: state.store.dead_letter_count(&filter)?,
                stages: state
                    .pipeline(&name)
                    .map(|pipeline| StageView::all(&pipeline))
                    .unwrap_or_default(),
            }))
        })
        .await
}

/// The run state of the channel named `name`.
fn run_state(state: &AdminState, name: &str) -> ChannelState {
    state
        .pipeline(name)
        .map_or(ChannelState::Running, |pipeline| pipeline.control.state())
}
