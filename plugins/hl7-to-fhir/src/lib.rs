//! The bundled HL7 v2 → FHIR R4 mapper, after the HL7 v2-to-FHIR implementation
//! guide (<https://build.fhir.org/ig/HL7/v2-to-fhir/>), for HL7 v2.3 to v2.8.
//!
//! # Design
//!
//! [`map_message`] is the whole mapping, a pure function callable natively (tests,
//! benchmarks) and from the Wasm component (`component.rs`, the `export_plugin!`
//! glue):
//!
//! ```text
//! raw ER7 ──parse──> hl7v2::Message ──dispatch (MSH-9)──> MessageKind
//!    └─> walk: segments in order, each to its resource (segments/), datatypes
//!        to FHIR datatypes (datatypes/), people and places to shared
//!        resources (references/) ──> Context entries ──> Bundle JSON
//! ```
//!
//! Invariants:
//! - **Deterministic ids.** A resource named by a business identifier (Patient
//!   by PID-3, Practitioner by XCN-1, ...) gets an id derived from that
//!   identifier; every other resource gets an id derived from the message key
//!   (MSH-3, MSH-4, MSH-10, or the whole text without MSH-10) and its segment's
//!   position. The same message always yields the same bundle.
//! - **Idempotent writes.** In transaction and batch bundles, a resource with an
//!   identifier whose system is a URI is written with a conditional update
//!   (`PUT Patient?identifier=system|value`); every other one with `PUT Type/id`.
//!   Resending an ADT updates the patient instead of duplicating it.
//! - **References by `fullUrl`** (`urn:uuid:<id>`) inside the bundle.
//! - **Errors name the place.** The one value the mapping cannot do without,
//!   a patient (PID) before the segments that belong to one, is a
//!   [`MapError::Invalid`] with the segment, its repetition and the field,
//!   for the ACK's ERR segment. Everything else maps as far as it goes:
//!   malformed values are dropped or kept as text, and a blank code or time
//!   that FHIR requires says `unknown` (data-absent-reason), so one blank
//!   field does not reject a whole message (docs/FHIR-MAPPING.md, "Errors").

mod context;
mod datatypes;
mod dispatch;
mod error;
mod options;
mod references;
mod segments;
mod walk;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod small_blocks;

pub use dispatch::MessageKind;
pub use error::MapError;
pub use options::{Options, Realm, Unsupported};

use hl7wasm_plugin_sdk::fhir::Bundle;
use hl7wasm_plugin_sdk::hl7v2::Message;
use serde_json::Value;

/// Maps one HL7 v2 message (ER7 text) to a FHIR R4 Bundle as JSON.
///
/// # Errors
/// [`MapError::Parse`] when the text is not an HL7 v2 message,
/// [`MapError::Unsupported`] for a message type this mapper does not handle,
/// [`MapError::Invalid`] when a segment that belongs to a patient comes
/// before any PID.
pub fn map_message(raw: &str, options: &Options) -> Result<Value, MapError> {
    with_bundle(raw, options, |bundle| bundle.into_json())
}

/// [`map_message`] serialised: the same Bundle as compact JSON text, written
/// straight from the mapped resources (faster than building and then
/// serialising the [`Value`]).
///
/// # Errors
/// As [`map_message`].
pub fn map_message_to_string(raw: &str, options: &Options) -> Result<String, MapError> {
    // Bundles run to about twelve times the message.
    with_bundle(raw, options, |bundle| bundle.to_json_string(raw.len() * 16))
}

/// `finish` applied to the mapped Bundle, which borrows from the parsed
/// message.
fn with_bundle<T>(
    raw: &str,
    options: &Options,
    finish: impl for<'m> FnOnce(Bundle<'m>) -> T,
) -> Result<T, MapError> {
    let message = Message::parse(raw.as_bytes())?;
    let header = message.header();
    let message_type = header.message_type();
    let event = message_type.event().unwrap_or_default();
    let kind = MessageKind::of(message_type.code.unwrap_or(""))
        .ok_or_else(|| MapError::Unsupported(event.clone()))?;
    Ok(finish(walk::map(&message, kind, options)?))
}
