//! What a failed plugin call means for the message.

use std::fmt;

/// Why a plugin call failed, for metrics and for the message's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCause {
    /// The plugin returned a transform error (its own decision).
    Plugin,
    /// The plugin trapped (a panic, `unreachable`, an out-of-bounds access).
    Trap,
    /// The epoch deadline stopped it.
    Timeout,
    /// It tried to grow memory past the cap.
    MemoryLimit,
    /// It returned more bytes than the output cap.
    OutputTooLarge,
    /// `configure` refused the channel's settings.
    Config,
}

impl FailureCause {
    /// A stable lower-case name, for metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCause::Plugin => "plugin_error",
            FailureCause::Trap => "trap",
            FailureCause::Timeout => "timeout",
            FailureCause::MemoryLimit => "memory_limit",
            FailureCause::OutputTooLarge => "output_too_large",
            FailureCause::Config => "config",
        }
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call that did not produce an outcome. Traps, timeouts, memory and
/// output limits are permanent for that message (reject, dead letter): the
/// same input would fail the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    /// What went wrong.
    pub cause: FailureCause,
    /// The reason, for the dead letter and the ERR segment.
    pub text: String,
}

impl CallFailure {
    /// A failure with its cause and reason.
    pub fn new(cause: FailureCause, text: String) -> Self {
        CallFailure { cause, text }
    }
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.text, self.cause)
    }
}
