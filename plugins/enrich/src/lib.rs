//! The enrich plugin: adds data from the administrator's lookup tables
//! (`[lookups.<table>]` in the engine config) to HL7 v2 messages, before
//! mapping, and to FHIR JSON, after it.
//!
//! # Rules
//!
//! The channel's plugin config is a list of rules, applied in order:
//!
//! ```json
//! { "on_missing": "keep",
//!   "rules": [
//!     { "table": "facilities",   "from": "MSH-4.1", "to": "MSH-4.2" },
//!     { "table": "lab_to_loinc", "from": "OBX-3.1", "to_code": "OBX-3", "system": "LN" },
//!     { "table": "facilities",   "resource": "Organization", "from": "name", "to": "name" },
//!     { "table": "providers",    "resource": "Practitioner", "from": "identifier.value", "to": "name.text" },
//!     { "table": "lab_to_loinc", "resource": "Observation", "from": "code.coding.code",
//!       "to_code": "code", "system": "http://loinc.org", "on_missing": "reject" } ] }
//! ```
//!
//! Each rule reads a key at `from`, looks it up in `table` and writes what it
//! found. A rule with `resource` applies to FHIR JSON, every other one to
//! HL7 v2; a message of another content type passes unchanged.
//!
//! - **HL7 v2** paths are terser paths (`PID-3[2].1`). `to` sets the value
//!   there. `to_code` names a coded field (CWE/CE) whose first triplet
//!   becomes `value^^system` while the original triplet moves to the
//!   alternate one (components 4–6, version 7 to 8); a field whose alternate
//!   triplet is taken is left unchanged, so no code is lost. A rule whose
//!   `from` and target name the same segment without a repetition
//!   (`OBX-3.1` → `OBX-3`) runs on every occurrence of that segment; any
//!   other rule runs once, on the paths as written.
//! - **FHIR** paths are member names joined by dots, from the resource:
//!   reading, arrays fan out and the first key found in the table wins;
//!   writing, arrays lead into their first element and missing members are
//!   created. `to` sets a string; `to_code` names a CodeableConcept that gets
//!   the coding `{system, code: value}` unless it has it already. A rule
//!   applies to every resource of type `resource`: the document itself, or
//!   each entry of a Bundle.
//!
//! Instead of `from`, a rule may take its key from the message's metadata:
//! `"from_metadata": "peer_certificate_name"` (the name in the sender's mTLS
//! client certificate) or `"channel"`. With `on_missing: reject` this
//! checks a sender against the table, and stamps the message with what the
//! table says of it: the facility the certificate belongs to in MSH-4, say,
//! rather than the one the sender claims:
//!
//! ```json
//! { "table": "senders", "from_metadata": "peer_certificate_name", "to": "MSH-4.1",
//!   "on_missing": "reject" }
//! ```
//!
//! A `from` that is absent or empty leaves the message unchanged, and so
//! does metadata the message lacks (no certificate without mTLS). A key that
//! is not in the table does too, unless `on_missing` (per rule, or for all
//! rules; by default `keep`) is `reject`: then the message is rejected with
//! the table and path, never the key, which may be patient data.
//!
//! The rule engine takes its tables through the [`Lookup`] trait: the
//! component asks the host, tests pass tables held in memory.

mod config;
mod error;
mod fhir;
mod hl7;
mod lookup;

#[cfg(target_arch = "wasm32")]
mod component;

pub use config::{Action, KeySource, MetadataKey, OnMissing, TableRef};
pub use error::EnrichError;
pub use fhir::FhirRule;
pub use hl7::Hl7Rule;
pub use lookup::Lookup;

use hl7wasm_plugin_sdk::hl7v2::OwnedMessage;

/// The configured rules of one channel, split by the content type they
/// apply to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enricher {
    /// Rules for HL7 v2 messages, in configured order.
    pub hl7: Vec<Hl7Rule>,
    /// Rules for FHIR JSON, in configured order.
    pub fhir: Vec<FhirRule>,
}

impl Enricher {
    /// Applies the HL7 v2 rules to one ER7 message; `None` when nothing
    /// changed, so that the caller forwards the original text.
    ///
    /// # Errors
    /// [`EnrichError::Parse`] for text that is not HL7 v2,
    /// [`EnrichError::Missing`] for a key missing from a `reject` rule's table.
    pub fn enrich_hl7(
        &self,
        er7: &str,
        tables: &impl Lookup,
    ) -> Result<Option<String>, EnrichError> {
        if self.hl7.is_empty() {
            return Ok(None);
        }
        let mut message = OwnedMessage::parse(er7.as_bytes())?;
        let mut changed = false;
        for rule in &self.hl7 {
            changed |= rule.apply(&mut message, tables)?;
        }
        Ok(changed.then(|| message.to_er7()))
    }

    /// Applies the FHIR rules to one FHIR JSON document; `None` when nothing
    /// changed.
    ///
    /// # Errors
    /// [`EnrichError::Json`] for text that is not JSON,
    /// [`EnrichError::Missing`] for a key missing from a `reject` rule's table.
    pub fn enrich_fhir(
        &self,
        json: &str,
        tables: &impl Lookup,
    ) -> Result<Option<String>, EnrichError> {
        if self.fhir.is_empty() {
            return Ok(None);
        }
        let mut document: serde_json::Value = serde_json::from_str(json)?;
        let mut changed = false;
        for rule in &self.fhir {
            changed |= rule.apply(&mut document, tables)?;
        }
        Ok(changed.then(|| document.to_string()))
    }
}
