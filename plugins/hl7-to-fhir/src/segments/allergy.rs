//! AL1 → AllergyIntolerance (IG `AL1[AllergyIntolerance]`).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::MapError;
use crate::context::{Context, Handle, Seg, put};
use crate::datatypes::codes;

/// Maps an AL1 to an active AllergyIntolerance of `patient`: allergen
/// (AL1-3), category and type (AL1-2), reactions (AL1-5) with their severity
/// (AL1-4) — or, without reactions, AL1-4 as criticality — and onset (AL1-6).
/// The id derives from the patient and the allergen, so a later message
/// listing the same allergy updates it.
///
/// # Errors
/// [`MapError::Invalid`] when AL1-3 (the allergen) is empty.
pub fn al1<'m>(ctx: &mut Context<'m>, al1: Seg<'m>, patient: Handle) -> Result<Handle, MapError> {
    let code = al1
        .rep(3)
        .and_then(|r| codes::codeable_concept(&r))
        .ok_or_else(|| al1.error(3, "the allergen is required"))?;
    let patient_ref = ctx.reference(patient);
    let allergen = code.to_string();
    let id = fhir::deterministic_id(&[
        "AllergyIntolerance",
        patient_ref["reference"].as_str().unwrap_or(""),
        &allergen,
    ]);
    let mut allergy = json!({
        "resourceType": "AllergyIntolerance",
        "id": id,
        "clinicalStatus": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": "active",
        }]},
        "code": code,
        "patient": patient_ref,
    });
    if let Some((category, kind)) = al1.text(2).and_then(|t| category(&t)) {
        allergy["category"] = json!([category]);
        allergy["type"] = Value::from(kind);
    }
    let severity = al1.text(4);
    let manifestations: Vec<Value<'m>> = al1
        .reps(5)
        .filter_map(|r| r.get(1))
        .map(|text| json!({ "text": text }))
        .collect();
    if manifestations.is_empty() {
        let criticality = severity.as_deref().and_then(|s| match s {
            "SV" => Some("high"),
            "MO" | "MI" => Some("low"),
            "U" => Some("unable-to-assess"),
            _ => None,
        });
        put(&mut allergy, "criticality", criticality.map(Value::from));
    } else {
        let mut reaction = json!({ "manifestation": manifestations });
        let level = severity.as_deref().and_then(|s| match s {
            "SV" => Some("severe"),
            "MO" => Some("moderate"),
            "MI" => Some("mild"),
            _ => None,
        });
        put(&mut reaction, "severity", level.map(Value::from));
        allergy["reaction"] = json!([reaction]);
    }
    put(
        &mut allergy,
        "onsetDateTime",
        al1.datetime(6, ctx).map(Value::from),
    );
    Ok(ctx.add(allergy, None))
}

/// HL7 table 0127 (allergen type) → FHIR category and type.
fn category(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "DA" => ("medication", "allergy"),
        "MA" => ("medication", "intolerance"),
        "FA" => ("food", "allergy"),
        "EA" | "AA" | "PA" | "LA" => ("environment", "allergy"),
        _ => return None,
    })
}
