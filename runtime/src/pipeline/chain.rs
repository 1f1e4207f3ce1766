//! One message through a channel's plugins, in order: each stage's outputs
//! feed the next (fan-out allowed), and each stage's result is recorded.

use std::sync::Arc;
use std::time::Instant;

use crate::metrics::{self, Metrics};
use crate::plugin::{
    Message, Metadata, PluginVersion, PluginWorker, StageFailure, StageOutcome, StageSettings,
};
use crate::store::StageRecord;

/// One configured stage: the plugin version that runs and its settings.
#[derive(Clone)]
pub struct Stage {
    /// The version.
    pub version: Arc<PluginVersion>,
    /// Its limits, configuration and lookup tables for this channel.
    pub settings: Arc<StageSettings>,
}

/// What the chain made of one message.
pub enum Verdict {
    /// These messages go to routing.
    Forward(Vec<Message>),
    /// Every branch was filtered; the last reason given.
    Filtered(String),
    /// A stage failed the message.
    Failed {
        /// The failing plugin's name.
        plugin: String,
        /// How and why.
        failure: StageFailure,
    },
}

/// The chain's result with the record of each stage call.
pub struct ChainResult {
    /// Each call, in order.
    pub stages: Vec<StageRecord>,
    /// The outcome.
    pub verdict: Verdict,
}

/// The plugin workers of one partition, one per stage.
pub struct Chain {
    workers: Vec<PluginWorker>,
}

impl Chain {
    /// Workers for `stages`; each starts its instance on first use.
    pub fn new(stages: &[Stage]) -> Self {
        let workers = stages
            .iter()
            .map(|stage| PluginWorker::new(stage.version.clone(), stage.settings.clone()))
            .collect();
        Chain { workers }
    }

    /// Whether there are no stages.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Runs `input` through every stage, on this thread.
    pub fn run(&mut self, input: Message, metadata: &Metadata, metrics: &Metrics) -> ChainResult {
        let mut stages = Vec::with_capacity(self.workers.len());
        let mut current = vec![input];
        let mut filtered = String::new();
        for worker in &mut self.workers {
            let mut next = Vec::new();
            for message in current {
                let started = Instant::now();
                let outcome = worker.transform(message, metadata.clone());
                let elapsed = started.elapsed();
                let info = &worker.version().info;
                metrics
                    .plugin_latency_seconds
                    .get_or_create(&metrics::channel_and(
                        &metadata.channel,
                        "plugin",
                        &info.name,
                    ))
                    .observe(elapsed.as_secs_f64());
                let mut record = StageRecord {
                    plugin: info.name.clone(),
                    version: info.version.clone(),
                    sha256: worker.version().sha256.clone(),
                    outcome: String::new(),
                    outputs: 0,
                    micros: elapsed.as_micros() as u64,
                    detail: None,
                };
                match outcome {
                    StageOutcome::Forward(messages) => {
                        record.outcome = "forward".into();
                        record.outputs = messages.len();
                        next.extend(messages);
                    }
                    StageOutcome::Skipped(message) => {
                        record.outcome = "skipped".into();
                        record.outputs = 1;
                        next.push(message);
                    }
                    StageOutcome::Filter(reason) => {
                        record.outcome = "filter".into();
                        record.detail = Some(reason.clone());
                        filtered = reason;
                    }
                    StageOutcome::Failed(failure) => {
                        metrics
                            .plugin_failures
                            .get_or_create(&vec![
                                ("channel", metadata.channel.clone()),
                                ("plugin", info.name.clone()),
                                ("cause", failure.cause.as_str().to_owned()),
                            ])
                            .inc();
                        record.outcome = match failure.disposition {
                            crate::plugin::Disposition::Reject => "reject".into(),
                            crate::plugin::Disposition::Retry => "retry".into(),
                        };
                        record.detail = Some(failure.text.clone());
                        let plugin = info.name.clone();
                        stages.push(record);
                        return ChainResult {
                            stages,
                            verdict: Verdict::Failed { plugin, failure },
                        };
                    }
                }
                stages.push(record);
            }
            current = next;
            if current.is_empty() {
                return ChainResult {
                    stages,
                    verdict: Verdict::Filtered(filtered),
                };
            }
        }
        ChainResult {
            stages,
            verdict: Verdict::Forward(current),
        }
    }
}
