//! A pipeline stage's plugin worker: owns at most one live instance of one
//! plugin version and decides when to throw it away.
//!
//! By default an instance is reused for many messages (see
//! docs/BENCHMARKS.md: a reused instance saves the instantiation on every
//! message) and recycled after a number of messages or once its memory has
//! grown past a threshold. Any trap, timeout or limit drops it at once, so
//! the next message gets a fresh instance. Strict isolation instantiates a
//! fresh instance for every message.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::HL7_V2_CONTENT_TYPE;
use super::bindings::{ErrorKind, Location, Message, Metadata, Outcome};
use super::failure::{CallFailure, FailureCause};
use super::instance::PluginInstance;
use super::limits::PluginLimits;
use super::state::LookupTables;
use super::version::PluginVersion;

/// How instances live between messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Reuse one instance per worker, recycled by the policy's thresholds.
    Reuse,
    /// A fresh instance for every message: nothing can leak between messages.
    Strict,
}

/// When a worker replaces its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstancePolicy {
    /// Reuse (the default) or strict isolation.
    pub isolation: Isolation,
    /// Recycle a reused instance after this many messages. By default 10,000.
    pub recycle_after_messages: u64,
    /// Recycle a reused instance once its memory has grown past this many
    /// bytes. By default 32 MiB.
    pub recycle_above_memory_bytes: usize,
}

impl Default for InstancePolicy {
    fn default() -> Self {
        InstancePolicy {
            isolation: Isolation::Reuse,
            recycle_after_messages: 10_000,
            recycle_above_memory_bytes: 32 << 20,
        }
    }
}

/// Everything a stage needs besides the plugin version.
#[derive(Debug, Clone, Default)]
pub struct StageSettings {
    /// Per-call limits.
    pub limits: PluginLimits,
    /// The channel's settings for this plugin, as JSON.
    pub config_json: String,
    /// The lookup tables the plugin may read.
    pub lookups: LookupTables,
    /// Instance reuse.
    pub policy: InstancePolicy,
}

/// Whether a failed message may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Never: ACK AR, dead-letter.
    Reject,
    /// Maybe: ACK AE, retry with backoff.
    Retry,
}

/// Why a stage failed a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageFailure {
    /// Reject or retry.
    pub disposition: Disposition,
    /// What went wrong.
    pub cause: FailureCause,
    /// The reason, for the dead letter and ERR-8.
    pub text: String,
    /// Where in the input, for ERR-2, when the plugin said.
    pub location: Option<Location>,
}

/// What a stage did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    /// These messages go on (fan-out when several, none when empty).
    Forward(Vec<Message>),
    /// The plugin filtered the message, with its reason.
    Filter(String),
    /// The plugin does not accept this message type; it goes on unchanged.
    Skipped(Message),
    /// The message failed.
    Failed(StageFailure),
}

/// Runs one plugin version for one pipeline stage.
pub struct PluginWorker {
    version: Arc<PluginVersion>,
    settings: Arc<StageSettings>,
    instance: Option<PluginInstance>,
}

impl PluginWorker {
    /// A worker with no instance yet; the first message starts one.
    pub fn new(version: Arc<PluginVersion>, settings: Arc<StageSettings>) -> Self {
        PluginWorker {
            version,
            settings,
            instance: None,
        }
    }

    /// The plugin version this worker runs.
    pub fn version(&self) -> &Arc<PluginVersion> {
        &self.version
    }

    /// Starts an instance now, so a bad configuration shows before traffic.
    ///
    /// # Errors
    /// When instantiation or `configure` fails.
    pub fn warm_up(&mut self) -> Result<(), CallFailure> {
        if self.instance.is_none() {
            self.instance = Some(self.start_instance()?);
        }
        Ok(())
    }

    /// Transforms one message on this thread. Call it from a blocking
    /// thread (see [`PluginWorker::transform_blocking`]).
    pub fn transform(&mut self, message: Message, metadata: Metadata) -> StageOutcome {
        if !self.accepts(&message) {
            return StageOutcome::Skipped(message);
        }
        let mut instance = match self.instance.take() {
            Some(instance) => instance,
            None => match self.start_instance() {
                Ok(instance) => instance,
                // The message is not at fault when the instance cannot start:
                // retry once the administrator fixes the plugin or its config.
                Err(failure) => {
                    return StageOutcome::Failed(stage_failure(Disposition::Retry, failure));
                }
            },
        };
        let outcome = match instance.transform(&message, metadata) {
            Err(failure) => {
                return StageOutcome::Failed(stage_failure(Disposition::Reject, failure));
            }
            Ok(Ok(Outcome::Forward(messages))) => StageOutcome::Forward(messages),
            Ok(Ok(Outcome::Filter(reason))) => StageOutcome::Filter(reason),
            Ok(Err(error)) => StageOutcome::Failed(StageFailure {
                disposition: match error.kind {
                    ErrorKind::Reject => Disposition::Reject,
                    ErrorKind::Retry => Disposition::Retry,
                },
                cause: FailureCause::Plugin,
                text: error.text,
                location: error.location,
            }),
        };
        if self.keeps(&instance) {
            self.instance = Some(instance);
        }
        outcome
    }

    /// Transforms one message on tokio's blocking pool, so a slow plugin
    /// never stalls the reactor; returns the worker with the outcome.
    pub async fn transform_blocking(
        mut self,
        message: Message,
        metadata: Metadata,
    ) -> (Self, StageOutcome) {
        tokio::task::spawn_blocking(move || {
            let outcome = self.transform(message, metadata);
            (self, outcome)
        })
        .await
        .expect("plugin worker thread panicked")
    }

    fn start_instance(&self) -> Result<PluginInstance, CallFailure> {
        PluginInstance::start(
            self.version.engine(),
            self.version.pre(),
            &self.version.info.name,
            &self.settings.limits,
            self.settings.lookups.clone(),
            &self.settings.config_json,
        )
    }

    fn accepts(&self, message: &Message) -> bool {
        if message.content_type != HL7_V2_CONTENT_TYPE
            || self.version.info.message_types.iter().any(|t| t == "*")
        {
            return true;
        }
        let accepted = with_message_type(&message.body, |kind| {
            self.version
                .accepts(kind.code.unwrap_or(""), kind.trigger.unwrap_or(""))
        });
        // Let the plugin see (and reject) what the host cannot parse.
        accepted.unwrap_or(true)
    }

    fn keeps(&self, instance: &PluginInstance) -> bool {
        let policy = &self.settings.policy;
        policy.isolation == Isolation::Reuse
            && instance.transformed < policy.recycle_after_messages
            && instance.memory_bytes() <= policy.recycle_above_memory_bytes
    }
}

/// `with` applied to MSH-9 of an HL7 v2 body, or `None` when the body does
/// not parse. Only the MSH segment is parsed, as the type is all that is
/// wanted here (the plugin parses the rest).
fn with_message_type<T>(body: &str, with: impl FnOnce(hl7v2::MessageType<'_>) -> T) -> Option<T> {
    hl7v2::Message::parse_header(body.as_bytes())
        .ok()
        .map(|message| with(message.header().message_type()))
}

fn stage_failure(disposition: Disposition, failure: CallFailure) -> StageFailure {
    StageFailure {
        disposition,
        cause: failure.cause,
        text: failure.text,
        location: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that the type is read from the MSH segment, also when blank
    /// lines come before it, and that a body that is not HL7 v2 has none.
    #[test]
    fn the_message_type_comes_from_msh() {
        let event = |body: &str| {
            with_message_type(body, |kind| {
                format!("{}^{}", kind.code.unwrap_or(""), kind.trigger.unwrap_or(""))
            })
        };
        let adt = "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rPID|1||X\r";
        assert_eq!(event(adt).as_deref(), Some("ADT^A01"));
        assert_eq!(event(&format!("\r\n{adt}")).as_deref(), Some("ADT^A01"));
        assert_eq!(event("{\"resourceType\": \"Bundle\"}"), None);
    }
}
