//! One module per resource, holding the maps of the segments that build it
//! (after the IG's `SEG[Resource]` segment maps).

pub mod account;
pub mod allergy;
pub mod appointment;
pub mod charge;
pub mod condition;
pub mod coverage;
pub mod device;
pub mod dispense;
pub mod document;
pub mod encounter;
pub mod header;
pub mod immunization;
pub mod medication;
pub mod note;
pub mod observation;
pub mod order;
pub mod participation;
pub mod patient;
pub mod procedure;
pub mod provenance;
pub mod race_ethnicity;
pub mod referral;
pub mod related_person;
pub mod report;
pub mod software;
pub mod specimen;
pub mod transformation;
pub mod value;

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use hl7wasm_plugin_sdk::fhir;

use crate::context::{Context, Handle, resource};

/// The resources that a clinical resource points at: the current patient,
/// visit, order and immunization of the message walk.
#[derive(Debug, Clone, Copy, Default)]
pub struct Links {
    /// The Patient (subject).
    pub patient: Option<Handle>,
    /// The Encounter.
    pub encounter: Option<Handle>,
    /// The ServiceRequest (basedOn).
    pub request: Option<Handle>,
    /// The Immunization (partOf), in vaccination messages.
    pub immunization: Option<Handle>,
}

/// An element that is required but has no value: a data-absent-reason
/// extension saying `unknown`.
pub fn unknown<'m>() -> Value<'m> {
    json!({ "extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
        "valueCode": "unknown",
    }]})
}

/// A code that is required but absent (an OBX without OBX-3, an order
/// without its drug): data-absent-reason `unknown` as its coding.
pub fn unknown_code<'m>() -> Value<'m> {
    json!({ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
        "code": "unknown",
    }]})
}

/// The id of the one `resource_type` of kind `what` that `owner` has (a
/// patient's living will, a visit's financial class): derived from the
/// owner's id, so the next message updates it rather than adding another.
pub fn one_per(ctx: &Context<'_>, resource_type: &str, what: &str, owner: Handle) -> String {
    let reference = ctx.reference(owner);
    let owner = reference["reference"].as_str().unwrap_or_default();
    fhir::deterministic_id(&[resource_type, what, owner])
}

/// Gives `made`, a resource made before any PID (a REF's referral, the
/// order an SIU books), its subject `patient`, unless it has one.
pub fn adopt_subject(ctx: &mut Context<'_>, made: Handle, patient: Handle) {
    let reference = ctx.reference(patient);
    let resource = ctx.resource_mut(made);
    if resource["subject"].get("reference").is_none() {
        resource["subject"] = reference;
    }
}

/// A reference to `patient` for a required subject, which without a patient
/// (orders allow that) is marked unknown.
pub fn subject<'m>(ctx: &Context<'m>, patient: Option<Handle>) -> Value<'m> {
    match patient {
        Some(patient) => ctx.reference(patient),
        None => unknown(),
    }
}

/// The id of a `resource_type` that `identifier` names for the patient
/// `owner` (a reference): from the identifier's system and value when it has
/// a system, which makes it unique anywhere; else from its value within the
/// patient, since senders number problems and accounts without a namespace
/// and such a number must not merge two patients' resources.
pub fn owned_id(resource_type: &str, identifier: &Value<'_>, owner: &Value<'_>) -> String {
    let value = identifier["value"].as_str().unwrap_or_default();
    let scope = identifier["system"]
        .as_str()
        .or_else(|| owner["reference"].as_str())
        .unwrap_or_default();
    fhir::deterministic_id(&[resource_type, scope, value])
}

/// A resource of `resource_type` with an id from the message key and the
/// segment at `position` (its index in the message): stable across resends.
pub fn positioned<'m>(
    ctx: &Context<'m>,
    resource_type: &'static str,
    position: usize,
) -> Value<'m> {
    let id = ctx.message_id(resource_type, position);
    resource(resource_type, id)
}
