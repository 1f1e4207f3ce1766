//! Self-tests for a plugin version before it is kept: sample messages with
//! the outcome each must have, run on a fresh worker with the given
//! configuration. The first test whose outcome differs fails the version.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::bindings::{Message, Metadata};
use super::version::PluginVersion;
use super::worker::{Disposition, PluginWorker, StageOutcome, StageSettings};
use super::{HL7_V2_CONTENT_TYPE, PluginLimits};

/// What a self-test expects the plugin to do with its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Pass one or more messages on. The default.
    #[default]
    Forward,
    /// Filter the message.
    Filter,
    /// Fail the message for good (a plugin error or a trap).
    Reject,
    /// Fail the message for now (retry later).
    Retry,
    /// Not look at it: the plugin does not accept its message type.
    Skip,
}

impl Expect {
    /// The outcome's name, as in a self-test's `expect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Forward => "forward",
            Expect::Filter => "filter",
            Expect::Reject => "reject",
            Expect::Retry => "retry",
            Expect::Skip => "skip",
        }
    }

    /// What `outcome` is, in these terms.
    fn of(outcome: &StageOutcome) -> Expect {
        match outcome {
            StageOutcome::Forward(_) => Expect::Forward,
            StageOutcome::Filter(_) => Expect::Filter,
            StageOutcome::Skipped(_) => Expect::Skip,
            StageOutcome::Failed(failure) => match failure.disposition {
                Disposition::Reject => Expect::Reject,
                Disposition::Retry => Expect::Retry,
            },
        }
    }
}

impl std::str::FromStr for Expect {
    type Err = String;

    fn from_str(text: &str) -> Result<Expect, String> {
        [
            Expect::Forward,
            Expect::Filter,
            Expect::Reject,
            Expect::Retry,
            Expect::Skip,
        ]
        .into_iter()
        .find(|expect| expect.as_str() == text)
        .ok_or_else(|| format!("{text:?} is not forward, filter, reject, retry or skip"))
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One sample HL7 v2 message and the outcome it must have.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfTest {
    /// The message, ER7 text (segments separated by `\r`).
    pub message: String,
    /// The outcome it must have; `forward` by default.
    #[serde(default)]
    pub expect: Expect,
}

/// The first self-test whose outcome differed from what it expected.
#[derive(Debug, Error)]
#[error("self-test {index} expected {expected} but the plugin answered {actual}{detail}")]
pub struct SelfTestFailure {
    /// The test's index, from 0.
    pub index: usize,
    /// What it expected.
    pub expected: Expect,
    /// What happened.
    pub actual: Expect,
    /// The plugin's reason, when it gave one, as `: <reason>`.
    pub detail: String,
}

/// Runs each of `tests` on a fresh worker for `version`, configured with
/// `config_json` and default limits.
///
/// # Errors
/// The first test whose outcome differs.
pub fn run(
    version: &Arc<PluginVersion>,
    config_json: &str,
    tests: &[SelfTest],
) -> Result<(), SelfTestFailure> {
    let settings = Arc::new(StageSettings {
        limits: PluginLimits::default(),
        config_json: config_json.to_owned(),
        ..StageSettings::default()
    });
    for (index, test) in tests.iter().enumerate() {
        let mut worker = PluginWorker::new(version.clone(), settings.clone());
        let message = Message {
            content_type: HL7_V2_CONTENT_TYPE.into(),
            body: test.message.clone(),
        };
        let outcome = worker.transform(message, metadata());
        let actual = Expect::of(&outcome);
        if actual != test.expect {
            let detail = match outcome {
                StageOutcome::Filter(reason) => format!(": {reason}"),
                StageOutcome::Failed(failure) => format!(": {} ({})", failure.text, failure.cause),
                StageOutcome::Forward(_) | StageOutcome::Skipped(_) => String::new(),
            };
            return Err(SelfTestFailure {
                index,
                expected: test.expect,
                actual,
                detail,
            });
        }
    }
    Ok(())
}

/// The metadata of a self-test message: channel `self-test`, no peer.
fn metadata() -> Metadata {
    Metadata {
        channel: "self-test".into(),
        received_at_unix_ms: crate::hl7_input::now_unix_ms(),
        peer_address: None,
        peer_certificate_name: None,
        control_id: None,
    }
}
