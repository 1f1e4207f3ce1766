//! [`MapError`]: why a message could not be mapped.

use thiserror::Error;

/// Why [`crate::map_message`] failed. The texts carry no patient data: they
/// reach logs and ERR-8.
#[derive(Debug, Error)]
pub enum MapError {
    /// The text is not an HL7 v2 message.
    #[error("malformed HL7 v2 message: {0}")]
    Parse(#[from] hl7wasm_plugin_sdk::hl7v2::ParseError),
    /// The message type (`CODE^TRIGGER`) has no mapping.
    #[error("unsupported message type {0:?}")]
    Unsupported(String),
    /// A value the mapping cannot do without is missing (a patient).
    #[error("{segment}-{field}: {reason}")]
    Invalid {
        /// Segment id, e.g. `OBX`.
        segment: String,
        /// 1-based repetition of the segment within the message.
        sequence: u32,
        /// 1-based field number.
        field: u32,
        /// What is wrong, without the value itself.
        reason: String,
    },
}
