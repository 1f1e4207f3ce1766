//! Dead letters: what could not be processed or delivered, with everything
//! an administrator needs to decide what to do with it.

use serde::{Deserialize, Serialize};

/// Why a message was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// A plugin rejected it (or trapped, timed out, hit a limit).
    PluginRejected,
    /// A plugin asked for retries and they ran out.
    PluginRetriesExhausted,
    /// The destination refused it (AR, a 4xx).
    Rejected,
    /// Delivery failed and the retries ran out.
    RetriesExhausted,
    /// Its channel or destination is no longer configured: no worker
    /// would take it (see `pipeline/unserved.rs`).
    NotConfigured,
}

impl DeadLetterReason {
    /// The reason as in config, metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::PluginRejected => "plugin_rejected",
            DeadLetterReason::PluginRetriesExhausted => "plugin_retries_exhausted",
            DeadLetterReason::Rejected => "rejected",
            DeadLetterReason::RetriesExhausted => "retries_exhausted",
            DeadLetterReason::NotConfigured => "not_configured",
        }
    }
}

/// What a dead letter records besides its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterHeader {
    /// The channel.
    pub channel: String,
    /// The destination that failed; `None` when the pipeline failed, in
    /// which case the payload is the inbound message.
    pub destination: Option<String>,
    /// The partition.
    pub partition: u32,
    /// The inbound message it came from.
    pub message_id: u64,
    /// MSH-10 of the inbound message.
    pub control_id: Option<String>,
    /// MSH-9 of the inbound message.
    pub message_type: Option<String>,
    /// The payload's content type.
    pub content_type: String,
    /// Why.
    pub reason: DeadLetterReason,
    /// The last error's text.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the first attempt failed, in milliseconds since the Unix epoch.
    pub first_failure_ms: u64,
    /// When the last attempt failed.
    pub last_failure_ms: u64,
}

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id: unique and increasing.
    pub sequence: u64,
    /// Everything but the payload.
    pub header: DeadLetterHeader,
    /// The payload that failed.
    pub body: Vec<u8>,
}

/// Which dead letters an operation applies to; empty fields match all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadLetterFilter {
    /// Only this one.
    pub sequence: Option<u64>,
    /// Only this channel's.
    pub channel: Option<String>,
    /// Only this destination's (`pipeline` for pipeline failures).
    pub destination: Option<String>,
    /// Only for this reason.
    pub reason: Option<DeadLetterReason>,
    /// Only those whose last failure is at or after this time (ms).
    pub since_ms: Option<u64>,
    /// Only those whose last failure is before this time (ms).
    pub until_ms: Option<u64>,
}

/// The destination name a filter uses for pipeline failures.
pub const PIPELINE: &str = "pipeline";

impl DeadLetterFilter {
    /// Whether the dead letter `sequence` with `header` matches.
    pub fn matches(&self, sequence: u64, header: &DeadLetterHeader) -> bool {
        let destination = header.destination.as_deref().unwrap_or(PIPELINE);
        self.sequence.is_none_or(|wanted| wanted == sequence)
            && self.channel.as_ref().is_none_or(|c| *c == header.channel)
            && self.destination.as_ref().is_none_or(|d| d == destination)
            && self.reason.is_none_or(|r| r == header.reason)
            && self.since_ms.is_none_or(|t| header.last_failure_ms >= t)
            && self.until_ms.is_none_or(|t| header.last_failure_ms < t)
    }
}
