//! [`EnrichError`]: why a message could not be enriched.

use hl7wasm_plugin_sdk::Location;
use hl7wasm_plugin_sdk::hl7v2::{ParseError, PathError};
use thiserror::Error;

/// Why [`crate::Enricher`] failed a message. The texts carry no patient
/// data: they reach logs and ERR-8.
#[derive(Debug, Error)]
pub enum EnrichError {
    /// The HL7 v2 text could not be parsed.
    #[error("malformed HL7 v2 message: {0}")]
    Parse(#[from] ParseError),
    /// The FHIR text is not JSON.
    #[error("not valid FHIR JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An HL7 v2 value could not be written.
    #[error("cannot write: {0}")]
    Path(#[from] PathError),
    /// A rule with `on_missing: reject` found a key that its table lacks.
    #[error("{from}: key not in lookup table `{table}`")]
    Missing {
        /// The table that lacks the key.
        table: String,
        /// Where the key was read: `OBX[2]-3.1`, `Observation.code.coding.code`.
        from: String,
        /// The HL7 v2 field of the key, for the ACK's ERR segment.
        location: Option<Location>,
    },
}
